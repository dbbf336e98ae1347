"""The decode loop on the project's real `Decoder` (tiny config): the cache contract holds end to end."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mathft_jax.inference import decoding
from mathft_jax.inference.sampling import SamplingConfig

transformer = pytest.importorskip("mathft_jax.models.transformer")
from mathft_jax.models.config import ModelConfig  # noqa: E402

CONFIG = ModelConfig(
    vocab_size=64, embed_dim=32, num_layers=2, num_heads=4, num_kv_heads=2, head_dim=8, mlp_dim=64
)
PROMPTS = [[5, 6, 7], [3, 4, 5, 6, 7, 8], [9]]


@pytest.fixture(scope="module")
def params():
    return transformer.init_params(CONFIG, jax.random.PRNGKey(0))


def left_pad(prompts, length=8):
    tokens = np.zeros((len(prompts), length), np.int32)
    for i, p in enumerate(prompts):
        tokens[i, length - len(p) :] = p
    return jnp.asarray(tokens), jnp.asarray((tokens != 0).astype(np.int32))


@pytest.mark.slow
def test_greedy_equals_full_forward_argmax_and_prefill_sharing_is_exact(params):
    model = decoding.decoder_fns(CONFIG)
    tokens, segs = left_pad(PROMPTS)
    config = decoding.DecodeConfig(
        num_samples=2,
        max_decode_len=5,
        sampling=SamplingConfig(temperature=1.0),
        include_greedy=True,
    )
    n_fold_config = dataclasses.replace(config, share_prefill=False)
    keys = decoding.problem_keys(0, jnp.arange(3))
    shared, _ = decoding.decode(params, tokens, segs, keys, model=model, config=config, eos_id=-1)
    n_fold, _ = decoding.decode(
        params, tokens, segs, keys, model=model, config=n_fold_config, eos_id=-1
    )
    np.testing.assert_array_equal(shared, n_fold)
    # Full forward without a cache; right padding to a fixed 16 keeps one compile (causal
    # attention never looks right).
    forward = jax.jit(
        lambda t: transformer.Decoder(CONFIG).apply({"params": params}, t, jnp.arange(16)[None])[0]
    )
    for b, prompt in enumerate(PROMPTS):
        seq = list(prompt)
        for _ in range(5):
            logits = forward(jnp.asarray([seq + [0] * (16 - len(seq))]))
            seq.append(int(jnp.argmax(logits[0, len(seq) - 1])))
        assert shared[b, 0].tolist() == seq[len(prompt) :], f"prompt {b}"


@pytest.mark.slow
@pytest.mark.parametrize("share_prefill", [True, False])
def test_scanned_layers_decode_the_same_tokens_as_unstacked(params, share_prefill):
    """`decoder_fns(unstack_layers=False)` (the TPU plans' decode: layers stay in the `nn.scan`,
    the cache stacked [layers, ...]) samples the same tokens as the default unstacked loop, with
    sliding-window layers too."""
    tokens, segs = left_pad(PROMPTS)
    keys = decoding.problem_keys(0, jnp.arange(3))
    config = decoding.DecodeConfig(
        num_samples=3,
        max_decode_len=6,
        sampling=SamplingConfig(temperature=1.0, top_p=0.9),
        include_greedy=True,
        share_prefill=share_prefill,
    )
    windowed = dataclasses.replace(CONFIG, sliding_window=3)
    for cfg in (CONFIG, windowed):
        scanned = decoding.decoder_fns(cfg, unstack_layers=False)
        assert scanned.prepare_params is None
        assert not isinstance(scanned.init_cache(2, 4)["k"], tuple)  # [layers, ...] buffers
        outs = [
            decoding.decode(params, tokens, segs, keys, model=m, config=config, eos_id=-1)
            for m in (decoding.decoder_fns(cfg), scanned)
        ]
        np.testing.assert_array_equal(outs[0][0], outs[1][0])
        np.testing.assert_array_equal(outs[0][1], outs[1][1])


def test_prefill_last_logits_equal_the_full_logits_at_the_last_position(params):
    """`ModelFns.last_logits` (decode's prefill: the head at the last position only) returns the
    logits and cache `apply` does, stacked or unstacked."""
    tokens, segs = left_pad(PROMPTS)
    positions = decoding.prompt_positions(segs)
    for unstack in (True, False):
        model = decoding.decoder_fns(CONFIG, unstack_layers=unstack)
        p = model.prepare_params(params) if model.prepare_params else params
        full, full_cache = model.apply(p, tokens, positions, segs, model.init_cache(3, 8))
        last, cache = model.last_logits(p, tokens, positions, segs, model.init_cache(3, 8))
        np.testing.assert_allclose(last, full[:, -1, :], rtol=1e-6, atol=1e-6)
        for a, b in zip(jax.tree.leaves(cache), jax.tree.leaves(full_cache), strict=True):
            np.testing.assert_array_equal(a, b)
