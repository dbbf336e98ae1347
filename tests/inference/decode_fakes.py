"""A tiny pure-jnp decoder with the project's KV-cache contract, so decoding tests do not depend on
`mathft_jax.models` (and fail only for decoding's own faults).

Contract (WORKSPACE.md, "Model"): cache = {"k","v": [layers, batch, max_len, heads, head_dim],
"index": int32[], "key_mask": bool[batch, max_len]}; a call with a cache writes its tokens at slots
[index, index+length), masks slots whose segment id is 0, attends causally, advances index.
"""

import jax
import jax.numpy as jnp
import numpy as np

from mathft_jax.inference.decoding import ModelFns

VOCAB, EMBED, HEADS, HEAD_DIM, LAYERS = 300, 32, 2, 16, 2


def init_params(seed: int = 0, vocab: int = VOCAB) -> dict:
    """Random weights, scaled so the logits are peaked enough for sampling tests to mean something."""
    rng = np.random.default_rng(seed)

    def w(*shape, scale=1.0):
        return jnp.asarray(
            rng.normal(0, scale / np.sqrt(shape[-2] if len(shape) > 1 else 1), shape)
        )

    return {
        "embed": w(vocab, EMBED, scale=np.sqrt(vocab)),
        "layers": [
            {
                "q": w(EMBED, HEADS * HEAD_DIM),
                "k": w(EMBED, HEADS * HEAD_DIM),
                "v": w(EMBED, HEADS * HEAD_DIM),
                "o": w(HEADS * HEAD_DIM, EMBED),
                "mlp": w(EMBED, EMBED),
            }
            for _ in range(LAYERS)
        ],
        "out": w(EMBED, vocab, scale=4.0),
    }


def init_cache(batch: int, max_length: int) -> dict:
    shape = (LAYERS, batch, max_length, HEADS, HEAD_DIM)
    return {
        "k": jnp.zeros(shape),
        "v": jnp.zeros(shape),
        "index": jnp.int32(0),
        "key_mask": jnp.zeros((batch, max_length), bool),
    }


def _pos_embedding(positions):
    freqs = 1.0 / (100.0 ** (jnp.arange(EMBED // 2) / (EMBED // 2)))
    angles = positions[..., None].astype(jnp.float32) * freqs
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


def apply(params, tokens, positions, segment_ids=None, cache=None):
    batch, length = tokens.shape
    if segment_ids is None:
        segment_ids = jnp.ones_like(tokens)
    x = params["embed"][tokens] + _pos_embedding(positions)  # [batch, length, embed]
    if cache is None:
        q_pos = k_pos = jnp.arange(length)
        seg_k = segment_ids
        mask = (k_pos[None, :] <= q_pos[:, None])[None] & (
            segment_ids[:, :, None] == seg_k[:, None, :]
        )
        mask = mask & (seg_k != 0)[:, None, :]
    else:
        index = cache["index"]
        key_mask = jax.lax.dynamic_update_slice(cache["key_mask"], segment_ids != 0, (0, index))
        max_len = key_mask.shape[1]
        causal = jnp.arange(max_len)[None, :] <= (index + jnp.arange(length))[:, None]
        mask = causal[None] & key_mask[:, None, :]
    new_k, new_v = [], []
    for i, layer in enumerate(params["layers"]):
        h = x / jnp.sqrt(jnp.mean(x**2, -1, keepdims=True) + 1e-6)
        q = (h @ layer["q"]).reshape(batch, length, HEADS, HEAD_DIM)
        k = (h @ layer["k"]).reshape(batch, length, HEADS, HEAD_DIM)
        v = (h @ layer["v"]).reshape(batch, length, HEADS, HEAD_DIM)
        if cache is not None:
            k = jax.lax.dynamic_update_slice(cache["k"][i], k, (0, index, 0, 0))
            v = jax.lax.dynamic_update_slice(cache["v"][i], v, (0, index, 0, 0))
            new_k.append(k)
            new_v.append(v)
        scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(HEAD_DIM)
        scores = jnp.where(mask[:, None], scores, -1e30)
        attn = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(scores, -1), v)
        x = x + attn.reshape(batch, length, -1) @ layer["o"]
        x = x + jnp.tanh(x @ layer["mlp"])
    logits = x @ params["out"]
    if cache is not None:
        cache = {
            "k": jnp.stack(new_k),
            "v": jnp.stack(new_v),
            "index": index + length,
            "key_mask": key_mask,
        }
    return logits.astype(jnp.float32), cache


MODEL = ModelFns(apply=apply, init_cache=init_cache)


class ByteVocab:
    """seqio.ByteVocabulary's id layout (pad 0, eos 1, unk 2, byte b -> b + 3) without TensorFlow."""

    pad_id, eos_id, unk_id, vocab_size = 0, 1, 2, 259

    def encode(self, text: str) -> list[int]:
        return [b + 3 for b in text.encode("utf-8")]

    def decode(self, ids) -> str:
        ids = list(ids)
        if self.eos_id in ids:
            ids = ids[: ids.index(self.eos_id)]
        return bytes(i - 3 for i in ids if 3 <= i < 259).decode("utf-8", errors="ignore")


class Problem:
    def __init__(self, unique_id: str, problem: str, answer: str, solution: str = ""):
        self.unique_id, self.problem, self.answer, self.solution = (
            unique_id,
            problem,
            answer,
            solution,
        )


def extract_boxed(text: str) -> str | None:
    """A stand-in answer extractor: the text after the last `boxed{` up to the next `}`."""
    at = text.rfind("boxed{")
    return None if at < 0 else text[at + 6 :].split("}")[0]


def scripted_model(template: str = "so \\boxed{D}.", prompt_len: int = 3) -> ModelFns:
    """A model that answers a prompt `<digit>?` with `template` (D = that digit), then EOS.

    Prompts must all be `prompt_len` tokens including the BOS (e.g. "7?" with BOS 0), so the decode
    step is the position minus `prompt_len`; the digit rides in the cache (slot 0 of `k`), which is
    how a per-row fact survives `repeat_cache`.
    """
    vocab = ByteVocab()

    def one_hot(ids):
        return 10.0 * jax.nn.one_hot(ids, VOCAB)

    def script_token(step, digit):
        text = jnp.asarray(vocab.encode(template) + [vocab.eos_id] * 64, jnp.int32)
        token = text[jnp.minimum(step, len(template) + 63)]
        return jnp.where(token == vocab.encode("D")[0], digit, token)

    def apply(params, tokens, positions, segment_ids=None, cache=None):
        del params, segment_ids
        batch, length = tokens.shape
        if length > 1:  # prefill: remember the digit, emit the script's first token
            digit = tokens[:, -2]
            cache = dict(cache, k=cache["k"].at[0, :, 0, 0, 0].set(digit.astype(jnp.float32)))
            logits = (
                jnp.zeros((batch, length, VOCAB)).at[:, -1].set(one_hot(script_token(0, digit)))
            )
        else:
            digit = cache["k"][0, :, 0, 0, 0].astype(jnp.int32)
            step = positions[:, 0] - prompt_len + 1
            logits = one_hot(jax.vmap(script_token)(step, digit))[:, None]
        return logits, dict(cache, index=cache["index"] + length)

    return ModelFns(apply=apply, init_cache=init_cache)
