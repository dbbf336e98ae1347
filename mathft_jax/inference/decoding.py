"""KV-cache incremental decoding: one prefill per prompt shared by its N samples, then a jitted
`lax.while_loop` that stops when every row has emitted EOS or the length budget is spent.

The model is reached through `ModelFns` so this module holds no model code: `decoder_fns(cfg)` binds
the project's `Decoder`/`init_cache`, and tests bind tiny stand-ins with the same cache contract
(WORKSPACE.md, "Model"): a call with a cache writes its tokens at slots [index, index+length),
attends causally to earlier slots whose `key_mask` is true, and advances `index`.

Rows are laid out problem-major: row `b * R + r` is sample `r` of problem `b`, where
`R = num_samples + include_greedy`, and with `include_greedy` row `r = 0` is the greedy decode.
Sample `s` of a problem draws its token at step `t` with key
`fold_in(fold_in(problem_key, s), t)`, so a sample never depends on batch size or neighbours.
"""

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from mathft_jax.inference.sampling import SamplingConfig, sample_tokens

Cache = dict[str, jax.Array]
# apply(params, tokens, positions, segment_ids, cache) -> (logits [batch, length, vocab], cache)
ApplyFn = Callable[
    [Any, jax.Array, jax.Array, jax.Array | None, Cache | None], tuple[jax.Array, Cache]
]
# init_cache(batch, max_length) -> cache
InitCacheFn = Callable[[int, int], Cache]
# share_prefix(prompt_cache, repeats, max_length) -> a cache whose rows read their prompt's slots
SharePrefixFn = Callable[[Cache, int, int], Cache]


@dataclasses.dataclass(frozen=True)
class ModelFns:
    """The model calls decoding needs; hashable so it can be a static jit argument.

    Optional: `share_prefix` keeps one copy of each prompt's cache for its N samples
    (`transformer.share_prefix`; without it the prompt cache is repeated N times), and
    `prepare_params` rearranges the params once per `decode` call, before the token loop
    (`transformer.unstack_layers`).
    """

    apply: ApplyFn
    init_cache: InitCacheFn
    share_prefix: SharePrefixFn | None = None
    prepare_params: Callable[[Any], Any] | None = None
    # (params, tokens, positions, segment_ids, label_ids [k]) -> f32 [batch, k]: the logits of
    # `label_ids` at the last position, from the final hidden states and k head columns, so
    # verifier scoring builds no [batch, length, vocab] tensor (issue 15's score plans).
    last_label_logits: Callable[..., jax.Array] | None = None
    # (params, tokens, positions, segment_ids, cache) -> (f32 logits at the last position
    # [batch, vocab], cache): the prefill without the [batch, prompt_len, vocab] logits (on a
    # TPU mesh that tensor was all-reduced whole onto every chip; docs/tpu_plan/notes.md).
    last_logits: Callable[..., tuple[jax.Array, Cache]] | None = None


def decoder_fns(
    config: Any, cache_dtype: Any = jnp.float32, unstack_layers: bool = True
) -> ModelFns:
    """Binds the project's `Decoder(config)` and its cache (imported here: models stay optional).

    `decode` unstacks scanned layers once (`prepare_params`) and keeps one cache buffer per
    layer, so the token loop copies neither weights nor cache; `apply` takes either layout
    (scoring calls it with the checkpoint's stacked params).

    `unstack_layers=False` keeps a scanned model's layers scanned in `decode` too: the prefill and
    the token loop run the `nn.scan` over stacked params with the stacked cache
    `[layers, batch, kv, max_length, hd]`, indexed by layer. The same tokens (tests), and one layer
    body in the compiled program instead of every layer twice, so a 16- or 32-layer decode
    compiles in a fraction of the time (the TPU plans, docs/tpu_plan/notes.md); the loop then
    slices each layer's weights every step, which the CPU path avoids by unstacking.
    """
    from mathft_jax.models import transformer

    modules = {
        True: transformer.Decoder(config),  # stacked "layers" params (as trained)
        False: transformer.Decoder(dataclasses.replace(config, scan_layers=False)),
    }

    def apply(params, tokens, positions, segment_ids, cache):
        module = modules[config.scan_layers and "layers" in params]
        return module.apply(
            {"params": params}, tokens, positions, segment_ids=segment_ids, cache=cache
        )

    unstack = unstack_layers or not config.scan_layers

    def init_cache(batch: int, max_length: int) -> Cache:
        if not unstack:  # stacked [layers, ...] buffers for the scan
            return transformer.init_cache(config, batch, max_length, cache_dtype)
        loop_config = modules[False].config
        return transformer.init_cache(loop_config, batch, max_length, cache_dtype, per_layer=True)

    def prepare_params(params):
        return transformer.unstack_layers(config, params)[1]

    def last_label_logits(params, tokens, positions, segment_ids, label_ids):
        module = modules[config.scan_layers and "layers" in params]
        hidden, _ = module.apply(
            {"params": params}, tokens, positions, segment_ids=segment_ids, return_hidden=True
        )
        columns = jnp.take(transformer.output_head(config, params), label_ids, axis=1)
        return transformer.logits_from_hidden(hidden[:, -1, :], columns, config.final_logit_softcap)

    def last_logits(params, tokens, positions, segment_ids, cache):
        module = modules[config.scan_layers and "layers" in params]
        hidden, cache = module.apply(
            {"params": params}, tokens, positions, segment_ids=segment_ids, cache=cache,
            return_hidden=True,
        )  # fmt: skip
        head = transformer.output_head(config, params)
        return transformer.logits_from_hidden(
            hidden[:, -1, :], head, config.final_logit_softcap
        ), cache

    return ModelFns(
        apply,
        init_cache,
        transformer.share_prefix,
        prepare_params if unstack else None,
        last_label_logits,
        last_logits,
    )


def prompt_positions(segment_ids: jax.Array) -> jax.Array:
    """Positions for left-padded prompts: 0 at the first real token, pads clipped to 0. [batch, len]"""
    return jnp.maximum(jnp.cumsum(segment_ids != 0, axis=-1) - 1, 0).astype(jnp.int32)


def repeat_cache(cache: Cache, repeats: int) -> Cache:
    """Repeats each row of a prefilled cache `repeats` times (row b -> rows b*repeats .. +repeats-1)."""
    return {
        "k": jnp.repeat(cache["k"], repeats, axis=1),  # [layers, batch * repeats, kv, len, hd]
        "v": jnp.repeat(cache["v"], repeats, axis=1),
        "key_mask": jnp.repeat(cache["key_mask"], repeats, axis=0),  # [batch * repeats, len]
        "index": cache["index"],
    }


def sample_keys(problem_keys: jax.Array, num_samples: int, include_greedy: bool) -> jax.Array:
    """[batch] problem keys -> [batch * R] row keys; sample s of a problem gets fold_in(key, s)."""
    sample_ids = jnp.arange(num_samples, dtype=jnp.uint32)
    keys = jax.vmap(lambda k: jax.vmap(lambda s: jax.random.fold_in(k, s))(sample_ids))(
        problem_keys
    )
    if include_greedy:  # the greedy row draws nothing; give it the problem key as a placeholder
        keys = jnp.concatenate([problem_keys[:, None], keys], axis=1)
    return keys.reshape((-1,) + keys.shape[2:])


# DecodeConfig.bos_id default: what the vocabulary's framing begins a sequence with
# (`data.vocabularies.framing(vocab).begin_id`: BOS, the shift-right 0, or nothing).
FROM_VOCAB = "framing"


@dataclasses.dataclass(frozen=True)
class DecodeConfig:
    """What a decode run draws for each prompt, and how it feeds the prompts in.

    One object from the decode job (`mathft_jax.decode.run_decode`, whose gin knobs fill it) down
    through `generation.decode_problems` and `generation.generate` to `decode`. Frozen and
    hashable: `decode` takes it as a static jit argument (it compiles once per config and shape).

    Attributes:
      num_samples: N sampled continuations per prompt.
      max_decode_len: the most tokens generated per row (EOS included).
      sampling: temperature / top-p / top-k of the sampled rows.
      include_greedy: add one greedy row per prompt, first in its group.
      batch_size: prompts per `decode` call (generation; x R rows); divisible by the data shards.
      max_prompt_len: prompts are left-padded to this many tokens; longer ones keep their tail.
      seed: the run seed; a problem's key folds it with the problem's index (`problem_keys`).
      bos_id: prepended to every prompt: FROM_VOCAB (the default) takes the vocabulary's framing
        (its BOS, the shift-right 0 of the byte vocabulary, or nothing); an int or None overrides.
      ignore_eos: keep generating after EOS (benchmarks with fixed lengths).
      share_prefill: prefill each prompt once and share its cache with its rows (the default:
        one read-only copy through `model.share_prefix` where the model has it, else repeated);
        False prefills every row (the N-fold baseline that tests compare against).
    """

    num_samples: int
    max_decode_len: int
    sampling: SamplingConfig
    include_greedy: bool = False
    batch_size: int = 8
    max_prompt_len: int = 512
    seed: int = 0
    bos_id: int | str | None = FROM_VOCAB
    ignore_eos: bool = False
    share_prefill: bool = True

    @property
    def rows_per_prompt(self) -> int:
        """R = num_samples + include_greedy: the rows `decode` returns per prompt."""
        return self.num_samples + int(self.include_greedy)


@functools.partial(jax.jit, static_argnames=("model", "config", "eos_id", "pad_id"))
def decode(
    params: Any,
    prompt_tokens: jax.Array,
    prompt_segment_ids: jax.Array,
    problem_keys: jax.Array,
    *,
    model: ModelFns,
    config: DecodeConfig,
    eos_id: int = 1,
    pad_id: int = 0,
) -> tuple[jax.Array, jax.Array]:
    """Decodes `config.num_samples` continuations (plus an optional greedy one) of each prompt.

    Args:
      params: model parameters.
      prompt_tokens: int32 [batch, prompt_len], left-padded.
      prompt_segment_ids: int32 [batch, prompt_len], 1 on prompt tokens, 0 on left padding.
      problem_keys: [batch] PRNG keys, one per problem.
      model: the model calls.
      config: num_samples, max_decode_len, sampling, include_greedy, ignore_eos and share_prefill
        (`DecodeConfig`; its batching fields are `generation`'s).
      eos_id: stops a row; written, then the row emits `pad_id`.
      pad_id: written after a row stops.

    Returns:
      tokens int32 [batch, R, max_decode_len] and lengths int32 [batch, R] (tokens up to and
      including EOS), R = num_samples + include_greedy.
    """
    num_samples, max_decode_len = config.num_samples, config.max_decode_len
    sampling, include_greedy = config.sampling, config.include_greedy
    if model.prepare_params is not None:
        params = model.prepare_params(params)
    batch, prompt_len = prompt_tokens.shape
    rows_per_prompt = config.rows_per_prompt
    rows = batch * rows_per_prompt
    segment_ids = prompt_segment_ids.astype(jnp.int32)
    positions = prompt_positions(segment_ids)
    lengths_in = jnp.sum(segment_ids != 0, axis=-1).astype(jnp.int32)  # [batch]
    max_length = prompt_len + max_decode_len

    def prefill(tokens, segs, pos, cache_length=max_length):
        cache = model.init_cache(tokens.shape[0], cache_length)
        if model.last_logits is not None:
            return model.last_logits(params, tokens, pos, segs, cache)
        logits, cache = model.apply(params, tokens, pos, segs, cache)
        return logits[:, -1, :].astype(jnp.float32), cache

    if config.share_prefill and model.share_prefix is not None:
        last_logits, cache = prefill(prompt_tokens, segment_ids, positions, prompt_len)
        last_logits = jnp.repeat(last_logits, rows_per_prompt, axis=0)  # [rows, vocab]
        cache = model.share_prefix(cache, rows_per_prompt, max_decode_len)
    elif config.share_prefill:
        last_logits, cache = prefill(prompt_tokens, segment_ids, positions)
        last_logits = jnp.repeat(last_logits, rows_per_prompt, axis=0)  # [rows, vocab]
        cache = repeat_cache(cache, rows_per_prompt)
    else:
        rep = functools.partial(jnp.repeat, repeats=rows_per_prompt, axis=0)
        last_logits, cache = prefill(rep(prompt_tokens), rep(segment_ids), rep(positions))

    row_keys = sample_keys(problem_keys, num_samples, include_greedy)  # [rows]
    greedy_rows = jnp.zeros((batch, rows_per_prompt), bool)
    if include_greedy:
        greedy_rows = greedy_rows.at[:, 0].set(True)
    greedy_rows = greedy_rows.reshape(rows)
    next_position = jnp.repeat(lengths_in, rows_per_prompt)  # [rows]
    ones = jnp.ones((rows, 1), jnp.int32)

    def cond(state):
        step, _, done, _, _, _ = state
        return (step < max_decode_len) & ~jnp.all(done)

    def body(state):
        step, out, done, lengths, logits, cache = state
        step_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(row_keys, step)
        token = sample_tokens(step_keys, logits, sampling, greedy_rows if include_greedy else None)
        token = jnp.where(done, pad_id, token)  # [rows]
        out = jax.lax.dynamic_update_slice(out, token[:, None], (0, step))
        lengths = lengths + (~done).astype(jnp.int32)
        if not config.ignore_eos:
            done = done | (token == eos_id)
        logits, cache = model.apply(
            params, token[:, None], (next_position + step)[:, None], ones, cache
        )
        return step + 1, out, done, lengths, logits[:, -1, :].astype(jnp.float32), cache

    state = (
        jnp.int32(0),
        jnp.full((rows, max_decode_len), pad_id, jnp.int32),
        jnp.zeros((rows,), bool),
        jnp.zeros((rows,), jnp.int32),
        last_logits,
        cache,
    )
    _, out, _, lengths, _, _ = jax.lax.while_loop(cond, body, state)
    return (
        out.reshape(batch, rows_per_prompt, max_decode_len),
        lengths.reshape(batch, rows_per_prompt),
    )


def problem_keys(seed: int, problem_indices: jax.Array) -> jax.Array:
    """Per-problem keys folded from the run seed and the problem's index in the full problem list."""
    base = jax.random.PRNGKey(seed)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.asarray(problem_indices, jnp.uint32))
