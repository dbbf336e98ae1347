"""Decoder: cache decoding equals the full forward (incl. left padding, sliding windows), packing
never leaks across examples, logical axes, dtypes, remat and sharded execution."""

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, PartitionSpec

from mathft_jax.models import transformer
from mathft_jax.models.config import ModelConfig

TINY = ModelConfig(
    vocab_size=64, embed_dim=32, num_layers=2, num_heads=4, num_kv_heads=2, head_dim=8, mlp_dim=64
)
# Gemma 2 features on top: every option that changes the attention or residual path.
GEMMA2ISH = dataclasses.replace(
    TINY,
    family="gemma2",
    activation="gelu_tanh",
    norm_plus_one=True,
    scale_embeddings=True,
    tie_embeddings=True,
    attn_logit_softcap=5.0,
    final_logit_softcap=3.0,
    post_norms=True,
    sliding_window=3,
    query_pre_attn_scalar=12.0,
)
CONFIGS = {
    "llama_scan": TINY,
    "qwen_loop": dataclasses.replace(TINY, qkv_bias=True, scan_layers=False, tie_embeddings=True),
    "gemma2_scan": GEMMA2ISH,
    "gemma2_loop": dataclasses.replace(GEMMA2ISH, scan_layers=False),
    "llama_scan_unrolled": dataclasses.replace(TINY, scan_unroll=2),
}


def _params(cfg: ModelConfig, seed: int = 0):
    """Random params drawn on the host: XLA's compile of `init` costs seconds per config on CPU."""
    rng = np.random.default_rng(seed)

    def draw(path, shape):
        is_norm = "norm" in jax.tree_util.keystr(path)
        base = 1.0 if is_norm and not cfg.norm_plus_one else 0.0
        noise = rng.normal(0.0, 0.1 if is_norm else 0.2, shape.shape)
        return jnp.asarray(base + noise, shape.dtype)

    return jax.tree_util.tree_map_with_path(draw, transformer.abstract_params(cfg))


@functools.partial(jax.jit, static_argnums=0)
def _apply(cfg, params, tokens, positions, segment_ids=None, cache=None):
    return transformer.Decoder(cfg).apply(
        {"params": params}, tokens, positions, segment_ids=segment_ids, cache=cache
    )


def _tokens(batch: int, length: int, seed: int = 0) -> jnp.ndarray:
    return jax.random.randint(jax.random.key(seed), (batch, length), 1, 64, jnp.int32)


def _arange(batch: int, length: int) -> jnp.ndarray:
    return jnp.tile(jnp.arange(length, dtype=jnp.int32), (batch, 1))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_prefill_then_steps_equal_full_forward(name):
    cfg = CONFIGS[name]
    params = _params(cfg)
    tokens, positions = _tokens(2, 9), _arange(2, 9)
    full, cache_out = _apply(cfg, params, tokens, positions)
    assert cache_out is None and full.dtype == jnp.float32 and full.shape == (2, 9, 64)

    cache = transformer.init_cache(cfg, 2, 12)
    step = functools.partial(_apply, cfg, params)
    pieces, (first, cache) = [], step(tokens[:, :4], positions[:, :4], None, cache)
    pieces.append(first)
    for t in range(4, 9):
        logits, cache = step(tokens[:, t : t + 1], positions[:, t : t + 1], None, cache)
        pieces.append(logits)
    np.testing.assert_allclose(jnp.concatenate(pieces, axis=1), full, atol=2e-5, rtol=2e-5)
    assert int(cache["index"]) == 9
    assert cache["k"].shape == (2, 2, 2, 12, 8)  # [layers, batch, kv_heads, slots, head_dim]
    np.testing.assert_array_equal(cache["key_mask"], np.arange(12)[None].repeat(2, 0) < 9)


def test_sliding_window_changes_logits_only_beyond_the_window():
    """Guards against a window that is silently ignored (or applied to every layer)."""
    params = _params(GEMMA2ISH)
    tokens, positions = _tokens(1, 8), _arange(1, 8)
    windowed, _ = _apply(GEMMA2ISH, params, tokens, positions)
    full, _ = _apply(dataclasses.replace(GEMMA2ISH, sliding_window=None), params, tokens, positions)
    np.testing.assert_allclose(windowed[:, :3], full[:, :3], atol=1e-5)  # all keys inside window
    assert np.abs(windowed[:, 3:] - full[:, 3:]).max() > 1e-3


@pytest.mark.parametrize("name", ["llama_scan", "gemma2_loop"])
def test_left_padded_prefill_matches_unpadded_rows(name):
    cfg = CONFIGS[name]
    params = _params(cfg)
    lengths = [6, 3]
    tokens = _tokens(2, 6, seed=3)
    pad = 6 - np.array(lengths)[:, None]
    segment_ids = jnp.asarray(np.arange(6)[None] >= pad, jnp.int32)  # [[1]*6, [0,0,0,1,1,1]]
    positions = jnp.maximum(jnp.cumsum(segment_ids, axis=1) - 1, 0)
    padded_tokens = jnp.where(segment_ids == 1, tokens, 0)
    cache = transformer.init_cache(cfg, 2, 10)
    prefill, cache = _apply(cfg, params, padded_tokens, positions, segment_ids, cache)
    next_tok = jnp.asarray([[7], [9]], jnp.int32)
    step, cache = _apply(
        cfg, params, next_tok, positions[:, -1:] + 1, jnp.ones((2, 1), jnp.int32), cache
    )
    for row, n in enumerate(lengths):
        real = jnp.concatenate([padded_tokens[row : row + 1, 6 - n :], next_tok[row : row + 1]], 1)
        ref, _ = _apply(cfg, params, real, _arange(1, n + 1))
        np.testing.assert_allclose(prefill[row, 6 - n :], ref[0, :n], atol=2e-5, rtol=2e-5)
        np.testing.assert_allclose(step[row, 0], ref[0, n], atol=2e-5, rtol=2e-5)


@pytest.mark.parametrize("name", ["llama_scan", "gemma2_scan"])
def test_packed_examples_do_not_see_each_other(name):
    cfg = CONFIGS[name]
    params = _params(cfg)
    a, b = _tokens(1, 5, seed=4), _tokens(1, 4, seed=5)
    packed = jnp.concatenate([a, b, jnp.zeros((1, 3), jnp.int32)], axis=1)
    segment_ids = jnp.asarray([[1] * 5 + [2] * 4 + [0] * 3], jnp.int32)
    positions = jnp.asarray([list(range(5)) + list(range(4)) + [0] * 3], jnp.int32)
    logits, _ = _apply(cfg, params, packed, positions, segment_ids)
    ref_a, _ = _apply(cfg, params, a, _arange(1, 5))
    ref_b, _ = _apply(cfg, params, b, _arange(1, 4))
    np.testing.assert_allclose(logits[:, :5], ref_a, atol=2e-5, rtol=2e-5)
    np.testing.assert_allclose(logits[:, 5:9], ref_b, atol=2e-5, rtol=2e-5)
    assert np.isfinite(np.asarray(logits)).all()  # padding rows see no key but stay finite


def test_repeated_prefill_cache_serves_independent_samples():
    cfg = TINY
    params = _params(cfg)
    prompt = _tokens(1, 5, seed=6)
    cache = transformer.init_cache(cfg, 1, 8)
    _, cache = _apply(cfg, params, prompt, _arange(1, 5), cache=cache)
    cache = {
        "k": jnp.repeat(cache["k"], 3, axis=1),
        "v": jnp.repeat(cache["v"], 3, axis=1),
        "key_mask": jnp.repeat(cache["key_mask"], 3, axis=0),
        "index": cache["index"],
    }
    nxt = jnp.asarray([[10], [20], [30]], jnp.int32)
    logits, _ = _apply(cfg, params, nxt, jnp.full((3, 1), 5, jnp.int32), cache=cache)
    for row in range(3):
        seq = jnp.concatenate([prompt, nxt[row : row + 1]], axis=1)
        ref, _ = _apply(cfg, params, seq, _arange(1, 6))
        np.testing.assert_allclose(logits[row, 0], ref[0, -1], atol=2e-5, rtol=2e-5)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_shared_prefix_steps_equal_repeated_prompt_cache(name):
    """share_prefix (one read-only prompt copy) gives the logits of repeating the prompt cache,
    over several steps, with left padding and (gemma2) a window shorter than the prompt."""
    cfg = CONFIGS[name]
    params = _params(cfg)
    prompts, repeats, steps = 2, 3, 4
    tokens = _tokens(prompts, 5, seed=8)
    segment_ids = jnp.asarray([[1] * 5, [0, 0, 1, 1, 1]], jnp.int32)
    positions = jnp.maximum(jnp.cumsum(segment_ids, axis=1) - 1, 0)
    tokens = jnp.where(segment_ids == 1, tokens, 0)

    def prefill(length):
        return _apply(
            cfg, params, tokens, positions, segment_ids, transformer.init_cache(cfg, 2, length)
        )[1]

    flat = prefill(5 + steps)
    flat = dict(
        flat,
        k=jnp.repeat(flat["k"], repeats, axis=1),
        v=jnp.repeat(flat["v"], repeats, axis=1),
        key_mask=jnp.repeat(flat["key_mask"], repeats, axis=0),
    )
    shared = transformer.share_prefix(prefill(5), repeats, steps)
    assert shared["k"].shape[1] == prompts * repeats and shared["prefix_k"].shape[1] == prompts
    next_position = jnp.repeat(positions[:, -1] + 1, repeats)[:, None]
    ones = jnp.ones((prompts * repeats, 1), jnp.int32)
    for step in range(steps):
        token = _tokens(prompts * repeats, 1, seed=20 + step)
        want, flat = _apply(cfg, params, token, next_position + step, ones, flat)
        got, shared = _apply(cfg, params, token, next_position + step, ones, shared)
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=2e-5, err_msg=f"step {step}")
    assert int(shared["index"]) == steps


@pytest.mark.parametrize("name", ["llama_scan", "gemma2_scan", "llama_scan_unrolled"])
def test_unstacked_layers_with_per_layer_cache_decode_like_the_scan(name):
    """The decode layout (unstack_layers + init_cache(per_layer=True)) gives the scan's logits,
    with a plain cache and with a shared prefix."""
    cfg = CONFIGS[name]
    params = _params(cfg)
    loop_cfg, loop_params = transformer.unstack_layers(cfg, params)
    assert not loop_cfg.scan_layers and "layers" not in loop_params
    assert loop_params["layer_1"]["attn"]["q"].shape == params["layers"]["attn"]["q"].shape[1:]
    tokens = _tokens(2, 5, seed=9)
    positions = _arange(2, 5)
    scan_cache = transformer.init_cache(cfg, 2, 8)
    loop_cache = transformer.init_cache(loop_cfg, 2, 8, per_layer=True)
    assert isinstance(loop_cache["k"], tuple) and len(loop_cache["k"]) == cfg.num_layers
    shared = transformer.share_prefix(
        _apply(loop_cfg, loop_params, tokens, positions, cache=transformer.init_cache(
            loop_cfg, 2, 5, per_layer=True))[1], 1, 3,
    )  # fmt: skip
    want, scan_cache = _apply(cfg, params, tokens, positions, cache=scan_cache)
    got, loop_cache = _apply(loop_cfg, loop_params, tokens, positions, cache=loop_cache)
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=2e-5)
    for step in range(3):
        token, pos = _tokens(2, 1, seed=30 + step), jnp.full((2, 1), 5 + step, jnp.int32)
        want, scan_cache = _apply(cfg, params, token, pos, cache=scan_cache)
        got, loop_cache = _apply(loop_cfg, loop_params, token, pos, cache=loop_cache)
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=2e-5, err_msg=f"step {step}")
        got, shared = _apply(loop_cfg, loop_params, token, pos, cache=shared)
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=2e-5, err_msg=f"prefix {step}")
    with pytest.raises(ValueError, match="scan_layers=False"):
        transformer.init_cache(cfg, 2, 8, per_layer=True)


def test_share_prefix_refuses_a_cache_that_already_shares():
    cache = transformer.share_prefix(transformer.init_cache(TINY, 1, 4), 2, 3)
    with pytest.raises(ValueError, match="already shares"):
        transformer.share_prefix(cache, 2, 3)


def test_logical_axes_name_every_dimension():
    specs = transformer.param_logical_axes(GEMMA2ISH)
    shapes = transformer.abstract_params(GEMMA2ISH)
    assert specs["layers"]["attn"]["q"] == PartitionSpec("layers", "embed", "heads", "kv")
    assert specs["layers"]["attn"]["k"] == PartitionSpec("layers", "embed", "kv_heads", "kv")
    assert specs["layers"]["mlp"]["down"] == PartitionSpec("layers", "mlp", "embed")
    assert specs["embedding"] == PartitionSpec("vocab", "embed")
    for spec, shape in zip(jax.tree.leaves(specs), jax.tree.leaves(shapes)):
        assert len(spec) == len(shape.shape) and None not in spec
    loop = transformer.param_logical_axes(dataclasses.replace(TINY, scan_layers=False))
    assert loop["layer_1"]["attn"]["o"] == PartitionSpec("heads", "kv", "embed")
    assert loop["lm_head"] == PartitionSpec("embed", "vocab")


def test_bf16_compute_and_params_stay_close_to_f32():
    params = _params(TINY)
    tokens, positions = _tokens(2, 6), _arange(2, 6)
    ref, _ = _apply(TINY, params, tokens, positions)
    cfg = dataclasses.replace(TINY, dtype="bfloat16", param_dtype="bfloat16")
    bf16_params = jax.tree.map(lambda x: x.astype(jnp.bfloat16), params)
    assert jax.tree.leaves(transformer.abstract_params(cfg))[0].dtype == jnp.bfloat16
    logits, _ = _apply(cfg, bf16_params, tokens, positions)
    assert logits.dtype == jnp.float32
    np.testing.assert_allclose(logits, ref, atol=0.15)
    assert np.abs(np.asarray(logits) - np.asarray(ref)).max() > 0  # bf16 really was used


def test_remat_and_scan_give_the_same_gradients():
    tokens, positions = _tokens(2, 6), _arange(2, 6)
    loop_cfg = dataclasses.replace(TINY, scan_layers=False)
    loop_params = _params(loop_cfg)
    # The same weights stacked along the `layers` axis for the scanned model.
    layers = [loop_params[f"layer_{i}"] for i in range(TINY.num_layers)]
    scan_params = {k: v for k, v in loop_params.items() if not k.startswith("layer_")}
    scan_params["layers"] = jax.tree.map(lambda *xs: jnp.stack(xs), *layers)

    def loss(cfg, params):
        logits, _ = _apply(cfg, params, tokens, positions)
        return jax.nn.logsumexp(logits, axis=-1).mean() - logits[..., 3].mean()

    g_loop = jax.jit(jax.grad(lambda p: loss(loop_cfg, p)))(loop_params)
    remat = dataclasses.replace(TINY, remat=True, remat_policy="dots_with_no_batch_dims_saveable")
    g_scan = jax.jit(jax.grad(lambda p: loss(remat, p)))(scan_params)
    np.testing.assert_allclose(
        g_scan["layers"]["mlp"]["up"][1], g_loop["layer_1"]["mlp"]["up"], atol=1e-5
    )
    np.testing.assert_allclose(g_scan["embedding"], g_loop["embedding"], atol=1e-5)
    assert np.abs(np.asarray(g_loop["layer_0"]["attn"]["q"])).max() > 0
    unrolled = dataclasses.replace(TINY, scan_unroll=TINY.num_layers)
    g_unrolled = jax.jit(jax.grad(lambda p: loss(unrolled, p)))(scan_params)
    np.testing.assert_allclose(
        g_unrolled["layers"]["mlp"]["up"][1], g_loop["layer_1"]["mlp"]["up"], atol=1e-5
    )


def test_sharded_forward_matches_single_device():
    devices = np.asarray(jax.devices()[:8]).reshape(2, 2, 2)
    mesh = Mesh(devices, ("data", "fsdp", "tensor"))
    rules = (
        ("batch", ("data", "fsdp")),
        ("embed", "fsdp"),
        ("mlp", "tensor"),
        ("heads", "tensor"),
        ("kv_heads", "tensor"),
        ("vocab", "tensor"),
    )
    cfg = TINY
    params = _params(cfg)
    tokens, positions = _tokens(4, 6), _arange(4, 6)
    ref, _ = _apply(cfg, params, tokens, positions)
    specs = nn.logical_to_mesh_sharding(transformer.param_logical_axes(cfg), mesh, rules)
    sharded = jax.device_put(params, specs)
    assert sharded["layers"]["mlp"]["up"].sharding.spec == PartitionSpec(None, "fsdp", "tensor")
    with jax.set_mesh(mesh), nn.logical_axis_rules(rules):
        logits, _ = _apply(cfg, sharded, tokens, positions)
    np.testing.assert_allclose(logits, ref, atol=2e-5, rtol=2e-5)


def test_invalid_configs_name_the_field():
    with pytest.raises(ValueError, match="num_kv_heads"):
        ModelConfig(num_heads=4, num_kv_heads=3)
    with pytest.raises(ValueError, match="remat_policy"):
        ModelConfig(remat_policy="save_everything_please")
    with pytest.raises(ValueError, match="activation"):
        ModelConfig(activation="relu")
    with pytest.raises(ValueError, match="scan_unroll"):
        ModelConfig(scan_unroll=0)
    with pytest.raises(ValueError, match="model_type"):
        ModelConfig.from_hf_config({"model_type": "mistral"})


@pytest.mark.slow
def test_init_params_match_abstract_shapes_and_train_signal():
    cfg = dataclasses.replace(GEMMA2ISH, qkv_bias=True)
    params = transformer.init_params(cfg, jax.random.key(0))
    shapes = transformer.abstract_params(cfg)
    assert jax.tree.map(lambda x: (x.shape, x.dtype), params) == jax.tree.map(
        lambda x: (x.shape, x.dtype), shapes
    )
    assert float(jnp.abs(params["layers"]["pre_attn_norm"]["scale"]).max()) == 0.0  # (1 + w) form
    logits, _ = _apply(cfg, params, _tokens(1, 4), _arange(1, 4))
    # Fresh init gives moderate logits: neither exploded nor collapsed.
    assert 0.01 < float(jnp.std(logits)) < 10.0


@pytest.mark.parametrize("unroll", [1, 3])
def test_decode_step_updates_the_cache_in_place(unroll):
    """A copy of the whole cache per layer would make each decode step cost O(cache) extra."""
    cfg = dataclasses.replace(TINY, num_layers=3, scan_unroll=unroll)
    cache = jax.eval_shape(lambda: transformer.init_cache(cfg, 4, 100))
    step = jax.jit(
        lambda p, t, q, c: transformer.Decoder(cfg).apply({"params": p}, t, q, cache=c),
        donate_argnums=3,
    )
    token = jax.ShapeDtypeStruct((4, 1), jnp.int32)
    hlo = step.lower(transformer.abstract_params(cfg), token, token, cache).compile().as_text()
    cache_type = "f32[3,4,2,100,8]"
    copies = [line for line in hlo.splitlines() if cache_type in line and " copy(" in line]
    assert hlo.count(cache_type) > 0 and not copies, copies
    # Nor a transposed copy of one layer's cache for the attention products.
    layer_shapes = ("f32[4,2,100,8]", "f32[4,2,8,100]", "f32[4,100,2,8]")
    transposed = [
        line.split(", metadata")[0]
        for line in hlo.splitlines()
        if "transpose" in line.split("=")[0]
        and any(t in line.split("fusion(")[0] for t in layer_shapes)
    ]
    assert not transposed, transposed


def test_decode_layout_step_slices_no_layer_out_of_a_stack():
    """With stacked layers every step copies each layer's weights and cache out of the stack
    (a fifth of a 100M decode step); the decode layout (unstack_layers, per-layer cache) reads
    them in place."""
    cfg = dataclasses.replace(TINY, num_layers=3, scan_unroll=3)
    # q weight, MLP down weight, one layer's cache; a slice out of a stack has a leading 1.
    layer_types = [f"f32[{p}{t}]" for t in ("32,4,8", "64,32", "4,2,100,8") for p in ("", "1,")]

    def sliced_layers(per_layer: bool) -> list[str]:
        params = transformer.abstract_params(cfg)
        run_cfg = cfg
        if per_layer:
            run_cfg = dataclasses.replace(cfg, scan_layers=False)
            params = jax.eval_shape(lambda p: transformer.unstack_layers(cfg, p)[1], params)
        cache = jax.eval_shape(lambda: transformer.init_cache(run_cfg, 4, 100, per_layer=per_layer))
        step = jax.jit(
            lambda p, t, q, c: transformer.Decoder(run_cfg).apply({"params": p}, t, q, cache=c),
            donate_argnums=3,
        )
        token = jax.ShapeDtypeStruct((4, 1), jnp.int32)
        hlo = step.lower(params, token, token, cache).compile().as_text()
        return [
            line.split(", metadata")[0]
            for line in hlo.splitlines()
            if ("slice(" in line and "update-slice" not in line)
            and any(t in line.split("slice(")[0] for t in layer_types)
        ]

    assert sliced_layers(per_layer=False)  # the stacked layout does copy them
    assert not sliced_layers(per_layer=True), sliced_layers(per_layer=True)


# Query-blocked attention (`attention_query_block`): 12 positions in blocks of 4 (divisible) and
# of 5 (5 + 5 + 2, the last block padded).
_BLOCK_CASES = [
    ("llama_scan", 4),
    ("llama_scan", 5),
    ("gemma2_scan", 5),  # softcap + sliding window 3 (narrower than a block)
    ("qwen_loop", 4),  # q/k/v bias, no layer scan
]


def _packed_batch() -> tuple[jax.Array, jax.Array, jax.Array]:
    """(tokens, positions, segment_ids) [2, 12]: row 0 packs 5 + 4 tokens and 3 pads, row 1 is
    one 12-token example, so segments start and end inside blocks of 4 and of 5."""
    tokens = _tokens(2, 12, seed=7)
    segment_ids = jnp.asarray([[1] * 5 + [2] * 4 + [0] * 3, [1] * 12], jnp.int32)
    positions = jnp.asarray([list(range(5)) + list(range(4)) + [0] * 3, list(range(12))])
    return jnp.where(segment_ids > 0, tokens, 0), positions.astype(jnp.int32), segment_ids


def _logits_and_grads(cfg, params, tokens, positions, segment_ids):
    def loss(p):
        logits, _ = transformer.Decoder(cfg).apply(
            {"params": p}, tokens, positions, segment_ids=segment_ids
        )
        return jax.nn.logsumexp(logits, axis=-1).mean() - logits[..., 3].mean(), logits

    return jax.jit(jax.value_and_grad(loss, has_aux=True))(params)


@pytest.mark.parametrize("name,block", _BLOCK_CASES)
def test_query_blocked_attention_equals_whole_in_logits_and_gradients(name, block):
    whole_cfg = CONFIGS[name]
    blocked_cfg = dataclasses.replace(whole_cfg, attention_query_block=block)
    params = _params(whole_cfg)
    batch = _packed_batch()
    (_, whole), g_whole = _logits_and_grads(whole_cfg, params, *batch)
    (_, blocked), g_blocked = _logits_and_grads(blocked_cfg, params, *batch)
    np.testing.assert_allclose(blocked, whole, atol=1e-5, rtol=1e-5)
    for path, g in jax.tree_util.tree_leaves_with_path(g_whole):
        got = functools.reduce(lambda t, k: t[k.key], path, g_blocked)
        np.testing.assert_allclose(got, g, atol=1e-5, rtol=1e-5, err_msg=jax.tree_util.keystr(path))
    # The comparison sees real values: the packing mask matters to these logits and gradients.
    (_, unpacked), g_unpacked = _logits_and_grads(
        blocked_cfg, params, batch[0], batch[1], jnp.ones_like(batch[2])
    )
    assert np.abs(np.asarray(unpacked[0, 5:9]) - np.asarray(whole[0, 5:9])).max() > 1e-3
    assert np.abs(np.asarray(g_unpacked["embedding"] - g_whole["embedding"])).max() > 1e-4


def test_query_blocked_attention_runs_a_checkpointed_loop_over_blocks():
    """Block 0, or a block as long as the row, keeps the whole path; else one loop body."""
    batch = _packed_batch()
    loop = dataclasses.replace(TINY, scan_layers=False)  # no layer scan: any scan is the blocks'
    params = _params(loop)

    def jaxpr(block: int) -> str:
        cfg = dataclasses.replace(loop, attention_query_block=block)
        apply = lambda p: transformer.Decoder(cfg).apply(  # noqa: E731
            {"params": p}, batch[0], batch[1], segment_ids=batch[2]
        )
        return str(jax.make_jaxpr(apply)(params))

    assert "remat" not in jaxpr(0) and " scan[" not in jaxpr(0)  # jax.checkpoint: remat2
    assert jaxpr(12) == jaxpr(0)
    blocked = jaxpr(5)
    assert blocked.count(" scan[") == blocked.count("remat2[") == TINY.num_layers
    # Scores [batch, kv_heads, group, queries, keys]: all queries, or one block of 5.
    assert "f32[2,2,2,12,12]" in jaxpr(0) and "f32[2,2,2,12,12]" not in blocked
    assert "f32[2,2,2,5,12]" in blocked


def test_query_blocks_see_each_query_rows_own_mask():
    """Direct check of the blocked function, tail block included: flipping the mask of the last
    (padded-block) query row changes that row's output and only it."""
    cfg = dataclasses.replace(TINY, attn_logit_softcap=5.0)
    rng = np.random.default_rng(0)
    q, k, v = (
        jnp.asarray(rng.normal(size=s), jnp.float32) for s in [(2, 7, 2, 2, 8)] + [(2, 7, 2, 8)] * 2
    )
    mask = jnp.asarray(rng.random((2, 7, 7)) < 0.6)
    whole = transformer._attend(cfg, q, k, v, mask)
    blocked = transformer._attend_query_blocks(cfg, q, k, v, mask, 3)
    assert blocked.shape == whole.shape == (2, 7, 4, 8)
    np.testing.assert_allclose(blocked, whole, atol=1e-6, rtol=1e-6)
    flipped = transformer._attend_query_blocks(cfg, q, k, v, mask.at[:, 6].set(~mask[:, 6]), 3)
    np.testing.assert_allclose(flipped[:, :6], whole[:, :6], atol=1e-6, rtol=1e-6)
    assert np.abs(np.asarray(flipped[:, 6] - whole[:, 6])).max() > 1e-3


def test_attention_query_block_must_be_a_non_negative_int():
    with pytest.raises(ValueError, match="attention_query_block=-1"):
        ModelConfig(attention_query_block=-1)
    with pytest.raises(ValueError, match="attention_query_block=2.5"):
        ModelConfig(attention_query_block=2.5)
