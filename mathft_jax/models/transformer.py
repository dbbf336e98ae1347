"""The decoder-only transformer (Flax linen) and its KV cache.

One module covers Llama 3.x, Qwen2.5, Gemma and Gemma 2 (see `ModelConfig`). Parameters and
activations carry logical axis names only (`batch, length, embed, mlp, heads, kv_heads, kv, vocab,
layers, norm`); `gin/partitioning/` maps them to mesh axes.

Calling convention (both training and decoding):

    logits, cache = Decoder(cfg).apply({"params": p}, tokens, positions, segment_ids, cache)

Without a cache, a token attends causally to tokens of its own non-zero segment (packing: never
across examples; segment 0 is padding) and the returned cache is None. With a cache from
`init_cache`, the call writes its `length` tokens at slots [index, index+length), marks those slots
valid where `segment_ids != 0`, attends to slots j <= own slot that are valid, and returns the cache
with `index` advanced. Example: prefill left-padded prompts `[[0, 0, 5, 6], [7, 8, 9, 4]]` with
segment ids `[[0, 0, 1, 1], [1, 1, 1, 1]]`, then feed one token per step with segment ids 1.

Shared prompts (`share_prefix`): N samples of one prompt attend to one read-only copy of the
prompt's keys and values (`prefix_k`, `prefix_v`, `prefix_mask` in the cache, one row per prompt)
plus their own slots, so the prompt's KV is neither copied N times nor read N times a step.
"""

import dataclasses
import functools
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from mathft_jax.models.config import NO_WINDOW, ModelConfig

Cache = dict[str, jax.Array]
# Finite so that a query with no visible key (a pad row) gets uniform weights, not NaN.
_MASK_VALUE = -0.7 * float(np.finfo(np.float32).max)

_dense_init = nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal")


def _dense_init_axes(in_axes: tuple[int, ...], out_axes: tuple[int, ...]) -> Any:
    return nn.initializers.variance_scaling(
        1.0, "fan_in", "truncated_normal", in_axis=in_axes, out_axis=out_axes
    )


def rope_inv_frequencies(cfg: ModelConfig) -> np.ndarray:
    """[head_dim // 2] inverse frequencies, with Llama 3.1 scaling when configured."""
    dim = cfg.head_dim
    inv = 1.0 / (cfg.rope_theta ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    if cfg.rope_scaling == "llama3":
        factor, old_len = cfg.rope_scaling_factor, cfg.rope_original_max_position
        low, high = cfg.rope_low_freq_factor, cfg.rope_high_freq_factor
        wavelen = 2 * math.pi / inv
        scaled = np.where(wavelen > old_len / low, inv / factor, inv)
        smooth = (old_len / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= old_len / high) & (wavelen <= old_len / low)
        inv = np.where(medium, smoothed, scaled)
    return inv.astype(np.float32)


def _rope_tables(cfg: ModelConfig, positions: jax.Array) -> tuple[jax.Array, jax.Array]:
    """positions [batch, length] -> (sin, cos) each [batch, length, head_dim // 2] in f32."""
    angles = positions.astype(jnp.float32)[..., None] * rope_inv_frequencies(cfg)
    return jnp.sin(angles), jnp.cos(angles)


def _apply_rope(x: jax.Array, sin: jax.Array, cos: jax.Array) -> jax.Array:
    """Rotates halves (the HF convention, so HF q/k weights load unpermuted). x [b, l, h, d]."""
    x1, x2 = jnp.split(x.astype(jnp.float32), 2, axis=-1)
    sin, cos = sin[:, :, None, :], cos[:, :, None, :]
    out = jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
    return out.astype(x.dtype)


def _matmul(x: jax.Array, w: jax.Array, contract: int = 1, preferred: Any = None) -> jax.Array:
    """`x[..., *in] @ w[*in, *out]` (the last `contract` dims of x) as one 2-D matrix product.

    XLA:CPU runs einsums with several batch or contracting dimensions, and above all their
    gradients, much slower than a plain GEMM (2.4x on the MLP's forward + backward); reshaping
    costs nothing and leaves sharding to GSPMD as before.
    """
    lead, out = x.shape[: x.ndim - contract], w.shape[contract:]
    k = math.prod(w.shape[:contract])
    y = jnp.dot(x.reshape(-1, k), w.reshape(k, -1), preferred_element_type=preferred)
    return y.reshape(*lead, *out)


def softcap(x: jax.Array, cap: float | None) -> jax.Array:
    """Gemma 2's soft cap `tanh(x / cap) * cap` (None: x unchanged); scores and logits both."""
    return x if cap is None else jnp.tanh(x / cap) * cap


def logits_from_hidden(hidden: jax.Array, head: jax.Array, cap: float | None = None) -> jax.Array:
    """f32 logits `softcap(hidden @ head)`: hidden [..., embed], head [embed, vocab or k columns].

    The one place the head and its cap are applied outside the module: the chunked losses and
    verifier scoring read a few columns or positions without the full [batch, length, vocab].
    """
    logits = jnp.einsum("...e,ev->...v", hidden, head, preferred_element_type=jnp.float32)
    return softcap(logits, cap)


class RMSNorm(nn.Module):
    """RMSNorm in f32; Gemma's variant scales by (1 + w) with w initialised at 0."""

    cfg: ModelConfig

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        cfg = self.cfg
        init = nn.initializers.zeros if cfg.norm_plus_one else nn.initializers.ones
        scale = self.param(
            "scale", nn.with_logical_partitioning(init, ("norm",)), (x.shape[-1],), cfg.weight_dtype
        )
        x32 = x.astype(jnp.float32)
        normed = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + cfg.norm_eps)
        if cfg.norm_plus_one:
            return (normed * (1.0 + scale.astype(jnp.float32))).astype(cfg.compute_dtype)
        return normed.astype(cfg.compute_dtype) * scale.astype(cfg.compute_dtype)


def _attend(
    cfg: ModelConfig,
    q: jax.Array,
    k: jax.Array,
    v: jax.Array,
    mask: jax.Array,
    keys: str = "bskd",
    prefix: tuple[jax.Array, jax.Array, jax.Array] | None = None,
) -> jax.Array:
    """Softmax attention of every query at once -> [batch, length, heads, head_dim].

    q [batch, length, kv_heads, group, head_dim], already scaled; k and v laid out as `keys`
    ("bskd": [batch, key slot, kv_heads, head_dim]; "bksd": kv-major cache); mask bool
    [batch, length, key slots]; `prefix` as in `Attention`.
    """
    batch, length, kvh, g, hd = q.shape
    scores = jnp.einsum(f"blkgd,{keys}->bkgls", q, k, preferred_element_type=jnp.float32)
    if prefix is not None:  # one softmax over [prompt keys, own keys]
        prefix_k, prefix_v, prefix_mask = prefix
        prompts, prefix_len = prefix_k.shape[0], prefix_k.shape[2]
        # The rows of one prompt become one query block: a GEMM per (prompt, kv head).
        q_prompt = q.reshape(prompts, batch // prompts, length, kvh, g, hd)
        prefix_scores = jnp.einsum(
            "bnlkgd,bksd->bnkgls", q_prompt, prefix_k.astype(q.dtype),
            preferred_element_type=jnp.float32,
        ).reshape(batch, kvh, g, length, prefix_len)  # fmt: skip
        scores = jnp.concatenate([prefix_scores, scores], axis=-1)
        rows_mask = jnp.repeat(prefix_mask, batch // prompts, axis=0)  # [b, l, prefix_len]
        mask = jnp.concatenate([rows_mask, mask], axis=-1)
    scores = softcap(scores, cfg.attn_logit_softcap)
    scores = jnp.where(mask[:, None, None, :, :], scores, _MASK_VALUE)
    probs = jax.nn.softmax(scores, axis=-1).astype(cfg.compute_dtype)
    if prefix is None:
        out = jnp.einsum(f"bkgls,{keys}->bkgld", probs, v)  # a batched GEMM; then [b, l, ...]
    else:
        prefix_probs = probs[..., :prefix_len].reshape(
            prompts, batch // prompts, kvh, g, length, prefix_len
        )
        out = jnp.einsum(f"bkgls,{keys}->bkgld", probs[..., prefix_len:], v)
        out = out + jnp.einsum(
            "bnkgls,bksd->bnkgld", prefix_probs, prefix_v.astype(probs.dtype)
        ).reshape(batch, kvh, g, length, hd)
    return jnp.moveaxis(out, 3, 1).reshape(batch, length, kvh * g, hd)


def _attend_query_blocks(
    cfg: ModelConfig, q: jax.Array, k: jax.Array, v: jax.Array, mask: jax.Array, block: int
) -> jax.Array:
    """`_attend` (no cache, no prefix) over `block` queries at a time: the same result, since
    each query's softmax is its own, up to float rounding.

    The whole path holds f32 scores [batch, heads, length, length] and keeps the probabilities
    for the backward pass (4.5 GiB a chip for llama3_1b at 16 rows x 1536 tokens). Here one
    block's scores exist at a time, and each block is `jax.checkpoint`ed so the backward pass
    recomputes its scores from (q block, k, v) instead of storing them for every block.
    A length that is not a multiple of `block` gets masked-out padding queries (their output,
    uniform over the keys, is dropped): one shape for every block, so one compiled loop body.
    """
    batch, length = q.shape[:2]
    blocks = -(-length // block)
    pad = blocks * block - length
    if pad:
        q = jnp.pad(q, ((0, 0), (0, pad), (0, 0), (0, 0), (0, 0)))
        mask = jnp.pad(mask, ((0, 0), (0, pad), (0, 0)))  # False: padding sees no key
    # Block axis first, for lax.map: [blocks, batch, block, ...].
    q_blocks = jnp.moveaxis(q.reshape(batch, blocks, block, *q.shape[2:]), 1, 0)
    mask_blocks = jnp.moveaxis(mask.reshape(batch, blocks, block, mask.shape[-1]), 1, 0)

    @functools.partial(jax.checkpoint, prevent_cse=False)  # prevent_cse is moot in a loop body
    def one_block(q_block: jax.Array, mask_block: jax.Array, k: jax.Array, v: jax.Array):
        return _attend(cfg, q_block, k, v, mask_block)  # [batch, block, heads, head_dim]

    out = jax.lax.map(lambda qm: one_block(*qm, k, v), (q_blocks, mask_blocks))
    out = jnp.moveaxis(out, 0, 1).reshape(batch, blocks * block, *out.shape[3:])
    return out[:, :length]


class Attention(nn.Module):
    """Grouped-query attention with RoPE, optional q/k/v bias, logit soft-cap and KV cache."""

    cfg: ModelConfig

    def _weight(self, name: str, shape: tuple[int, ...], axes: tuple[str, ...], init: Any) -> Any:
        w = self.param(name, nn.with_logical_partitioning(init, axes), shape, self.cfg.weight_dtype)
        return w.astype(self.cfg.compute_dtype)

    @nn.compact
    def __call__(
        self,
        x: jax.Array,
        rope: tuple[jax.Array, jax.Array],
        mask: jax.Array,
        cache_kv: tuple[jax.Array, jax.Array, jax.Array | int] | None,
        cache_index: jax.Array,
        prefix: tuple[jax.Array, jax.Array, jax.Array] | None = None,
    ) -> tuple[jax.Array, tuple[jax.Array, jax.Array] | None]:
        """`prefix`: (k, v [prompts, kv_heads, prefix_len, head_dim] of this layer, mask [prompts,
        length, prefix_len]) shared by the `batch // prompts` consecutive rows of each prompt."""
        cfg = self.cfg
        d, h, kvh, hd = cfg.embed_dim, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        batch, length, _ = x.shape
        proj_init = _dense_init_axes((0,), (1, 2))
        q = _matmul(x, self._weight("q", (d, h, hd), ("embed", "heads", "kv"), proj_init))
        k = _matmul(x, self._weight("k", (d, kvh, hd), ("embed", "kv_heads", "kv"), proj_init))
        v = _matmul(x, self._weight("v", (d, kvh, hd), ("embed", "kv_heads", "kv"), proj_init))
        if cfg.qkv_bias:
            zeros = nn.initializers.zeros
            q = q + self._weight("q_bias", (h, hd), ("heads", "kv"), zeros)
            k = k + self._weight("k_bias", (kvh, hd), ("kv_heads", "kv"), zeros)
            v = v + self._weight("v_bias", (kvh, hd), ("kv_heads", "kv"), zeros)
        sin, cos = rope
        q = nn.with_logical_constraint(_apply_rope(q, sin, cos), ("batch", "length", "heads", "kv"))
        k = nn.with_logical_constraint(
            _apply_rope(k, sin, cos), ("batch", "length", "kv_heads", "kv")
        )
        v = nn.with_logical_constraint(v, ("batch", "length", "kv_heads", "kv"))

        new_kv = None
        keys = "bskd"  # layout of k and v: [batch, key slot, kv_heads, head_dim]
        if cache_kv is not None:  # this call's keys/values go to slots [index, index + length)
            # Write first, then read this layer back: XLA then updates the cache in place (a
            # read of the old layer before the write would force a copy of the whole cache).
            # [layers, batch, kv_heads, max_length, head_dim], or with `layer` None this layer's
            # own [batch, kv_heads, max_length, head_dim] (`init_cache(per_layer=True)`).
            cache_k, cache_v, layer = cache_kv
            start = (0, 0, cache_index, 0) if layer is None else (layer, 0, 0, cache_index, 0)

            def write(cache: jax.Array, new: jax.Array) -> jax.Array:
                new = jnp.swapaxes(new.astype(cache.dtype), 1, 2)  # [b, kv, l, hd]
                return jax.lax.dynamic_update_slice(
                    cache, new if layer is None else new[None], start
                )

            cache_k, cache_v = write(cache_k, k), write(cache_v, v)
            new_kv = (cache_k, cache_v)
            if layer is None:
                k, v = cache_k.astype(cfg.compute_dtype), cache_v.astype(cfg.compute_dtype)
            else:  # reading the layer out of the stack copies it
                take = jax.lax.dynamic_index_in_dim
                k = take(cache_k, layer, 0, False).astype(cfg.compute_dtype)
                v = take(cache_v, layer, 0, False).astype(cfg.compute_dtype)
            # kv-major, so both products below are plain batched GEMMs over (batch, kv_heads): a
            # slot-major layer would be transposed (copied whole) every decode step.
            keys = "bksd"

        scale = (cfg.query_pre_attn_scalar or hd) ** -0.5
        g = h // kvh
        q = (q * scale).reshape(batch, length, kvh, g, hd)  # [b, l, kv_heads, group, hd]
        block = cfg.attention_query_block
        if cache_kv is None and prefix is None and 0 < block < length:
            out = _attend_query_blocks(cfg, q, k, v, mask, block)
        else:
            out = _attend(cfg, q, k, v, mask, keys, prefix)
        out = nn.with_logical_constraint(out, ("batch", "length", "heads", "kv"))
        wo = self._weight("o", (h, hd, d), ("heads", "kv", "embed"), _dense_init_axes((0, 1), (2,)))
        return _matmul(out, wo, contract=2), new_kv


class Mlp(nn.Module):
    """Gated MLP: SwiGLU (silu) or GeGLU (gelu_tanh)."""

    cfg: ModelConfig

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        cfg = self.cfg
        d, m, dt = cfg.embed_dim, cfg.mlp_dim, cfg.compute_dtype

        def weight(name: str, shape: tuple[int, int], axes: tuple[str, str]) -> jax.Array:
            init = nn.with_logical_partitioning(_dense_init, axes)
            return self.param(name, init, shape, cfg.weight_dtype).astype(dt)

        gate = _matmul(x, weight("gate", (d, m), ("embed", "mlp")))
        up = _matmul(x, weight("up", (d, m), ("embed", "mlp")))
        act = jax.nn.silu(gate) if cfg.activation == "silu" else jax.nn.gelu(gate, approximate=True)
        hidden = nn.with_logical_constraint(act * up, ("batch", "length", "mlp"))
        return _matmul(hidden, weight("down", (m, d), ("mlp", "embed")))


# Scan carry: (x [batch, length, embed], cache k and v [layers, batch, kv, max_length, hd] or None).
# The whole cache rides in the carry and each layer writes only its new tokens, in place (see
# `Attention`); per-layer slices as scan inputs/outputs would copy the full cache every step.
Carry = tuple[jax.Array, jax.Array | None, jax.Array | None]


class DecoderLayer(nn.Module):
    """Pre-norm residual layer; Gemma 2 adds post-norms. Returns (carry, None) for `nn.scan`."""

    cfg: ModelConfig

    @nn.compact
    def __call__(
        self,
        carry: Carry,
        rope: tuple[jax.Array, jax.Array],
        mask: jax.Array,
        cache_index: jax.Array,
        window: jax.Array | None,
        layer: jax.Array | int | None,
        prefix: tuple[jax.Array, jax.Array, jax.Array] | None = None,
    ) -> tuple[Carry, None]:
        """`layer` indexes the stacked cache; None when the carry holds this layer's own cache.
        `prefix`: the shared prompt cache (k, v [layers, prompts, kv, prefix_len, hd], or this
        layer's with `layer` None; key mask [prompts, prefix_len]) or None; its slots come before
        the own cache's."""
        cfg = self.cfg
        x, cache_k, cache_v = carry
        cache_kv = None if cache_k is None else (cache_k, cache_v, layer)
        prefix_len = 0 if prefix is None else prefix[2].shape[1]
        prefix_mask = None if prefix is None else prefix[2][:, None, :]  # [prompts, 1, prefix_len]
        if window is not None:  # sliding-window layer: query slot - key slot < window
            q_slot = prefix_len + cache_index + jnp.arange(mask.shape[1])
            k_slot = prefix_len + jnp.arange(mask.shape[2])
            mask = mask & ((q_slot[:, None] - k_slot[None, :]) < window)[None]
            if prefix is not None:
                near = (q_slot[:, None] - jnp.arange(prefix_len)[None, :]) < window
                prefix_mask = prefix_mask & near[None]
        layer_prefix = None
        if prefix is not None:  # with `layer` None, prefix k/v are already this layer's
            prefix_k, prefix_v = prefix[0], prefix[1]
            if layer is not None:
                take = jax.lax.dynamic_index_in_dim
                prefix_k, prefix_v = (
                    take(prefix_k, layer, 0, False),
                    take(prefix_v, layer, 0, False),
                )
            layer_prefix = (
                prefix_k,
                prefix_v,
                jnp.broadcast_to(prefix_mask, (prefix_mask.shape[0], mask.shape[1], prefix_len)),
            )
        h = RMSNorm(cfg, name="pre_attn_norm")(x)
        h, new_kv = Attention(cfg, name="attn")(h, rope, mask, cache_kv, cache_index, layer_prefix)
        if new_kv is not None:
            cache_k, cache_v = new_kv
        if cfg.post_norms:
            h = RMSNorm(cfg, name="post_attn_norm")(h)
        x = x + h
        h = Mlp(cfg, name="mlp")(RMSNorm(cfg, name="pre_mlp_norm")(x))
        if cfg.post_norms:
            h = RMSNorm(cfg, name="post_mlp_norm")(h)
        x = nn.with_logical_constraint(x + h, ("batch", "length", "embed"))
        return (x, cache_k, cache_v), None


def _attention_mask(
    length: int, segment_ids: jax.Array | None, batch: int, cache: Cache | None
) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    """-> (mask bool [batch, length, keys], cache index, updated key_mask or None)."""
    if cache is None:
        seg = jnp.ones((batch, length), jnp.int32) if segment_ids is None else segment_ids
        causal = jnp.arange(length)[:, None] >= jnp.arange(length)[None, :]
        same = (seg[:, :, None] == seg[:, None, :]) & (seg[:, None, :] != 0)
        return causal[None] & same, jnp.zeros((), jnp.int32), None
    index = cache["index"]
    valid = jnp.ones((batch, length), bool) if segment_ids is None else segment_ids != 0
    key_mask = jax.lax.dynamic_update_slice(cache["key_mask"], valid, (0, index))
    causal = jnp.arange(key_mask.shape[1])[None, :] <= (index + jnp.arange(length))[:, None]
    return causal[None] & key_mask[:, None, :], index, key_mask


class Decoder(nn.Module):
    """Token ids -> f32 logits; see the module docstring for masks and the cache contract."""

    config: ModelConfig

    @nn.compact
    def __call__(
        self,
        tokens: jax.Array,
        positions: jax.Array,
        segment_ids: jax.Array | None = None,
        cache: Cache | None = None,
        return_hidden: bool = False,
    ) -> tuple[jax.Array, Cache | None]:
        """(logits, cache); with `return_hidden`, the final-norm hidden states [batch, length,
        embed] (compute dtype) instead of logits: `output_head` turns them into logits."""
        cfg = self.config
        dt = cfg.compute_dtype
        batch, length = tokens.shape
        emb_std = 1.0 if cfg.scale_embeddings else cfg.embed_dim**-0.5
        embedding = self.param(
            "embedding",
            nn.with_logical_partitioning(nn.initializers.normal(emb_std), ("vocab", "embed")),
            (cfg.vocab_size, cfg.embed_dim),
            cfg.weight_dtype,
        )
        x = jnp.take(embedding, tokens, axis=0).astype(dt)  # [batch, length, embed]
        if cfg.scale_embeddings:
            x = x * jnp.asarray(cfg.embed_dim**0.5, dt)
        x = nn.with_logical_constraint(x, ("batch", "length", "embed"))
        rope = _rope_tables(cfg, positions)
        mask, index, key_mask = _attention_mask(length, segment_ids, batch, cache)
        windows = None
        if cfg.sliding_window is not None:
            windows = jnp.asarray(
                [NO_WINDOW if w is None else w for w in cfg.layer_windows()], jnp.int32
            )  # [layers]
        carry = (x, None, None) if cache is None else (x, cache["k"], cache["v"])
        prefix = None
        if cache is not None and "prefix_k" in cache:
            prefix = (cache["prefix_k"], cache["prefix_v"], cache["prefix_mask"])

        layer_cls = DecoderLayer
        if cfg.remat:
            policy = getattr(jax.checkpoint_policies, cfg.remat_policy)
            layer_cls = nn.remat(DecoderLayer, prevent_cse=not cfg.scan_layers, policy=policy)
        if cfg.scan_layers:
            stack = nn.scan(
                layer_cls,
                variable_axes={"params": 0},
                split_rngs={"params": True},
                in_axes=(nn.broadcast, nn.broadcast, nn.broadcast, 0, 0, nn.broadcast),
                length=cfg.num_layers,
                unroll=min(cfg.scan_unroll, cfg.num_layers),
                metadata_params={nn.PARTITION_NAME: "layers"},
            )(cfg, name="layers")
            layers = jnp.arange(cfg.num_layers, dtype=jnp.int32)
            carry, _ = stack(carry, rope, mask, index, windows, layers, prefix)
        elif cache is not None and isinstance(cache["k"], tuple):  # per-layer cache buffers
            new_ks, new_vs = [], []
            for i in range(cfg.num_layers):
                window = None if windows is None else windows[i]
                layer_prefix = None if prefix is None else (prefix[0][i], prefix[1][i], prefix[2])
                (x, k_i, v_i), _ = layer_cls(cfg, name=f"layer_{i}")(
                    (x, cache["k"][i], cache["v"][i]), rope, mask, index, window, None, layer_prefix
                )
                new_ks.append(k_i)
                new_vs.append(v_i)
            carry = (x, tuple(new_ks), tuple(new_vs))
        else:
            for i in range(cfg.num_layers):
                window = None if windows is None else windows[i]
                carry, _ = layer_cls(cfg, name=f"layer_{i}")(
                    carry, rope, mask, index, window, i, prefix
                )
        x, new_k, new_v = carry

        x = RMSNorm(cfg, name="final_norm")(x)
        if return_hidden:
            if not cfg.tie_embeddings:  # create the head so init/abstract params keep it
                self.param(
                    "lm_head",
                    nn.with_logical_partitioning(_dense_init, ("embed", "vocab")),
                    (cfg.embed_dim, cfg.vocab_size),
                    cfg.weight_dtype,
                )
            if cache is None:
                return x, None
            return x, dict(cache, k=new_k, v=new_v, index=index + length, key_mask=key_mask)
        if cfg.tie_embeddings:
            logits = _matmul(x, embedding.astype(dt).T, preferred=jnp.float32)
        else:
            head = self.param(
                "lm_head",
                nn.with_logical_partitioning(_dense_init, ("embed", "vocab")),
                (cfg.embed_dim, cfg.vocab_size),
                cfg.weight_dtype,
            )
            logits = _matmul(x, head.astype(dt), preferred=jnp.float32)
        logits = nn.with_logical_constraint(
            softcap(logits, cfg.final_logit_softcap), ("batch", "length", "vocab")
        )
        if cache is None:
            return logits, None
        new_cache = dict(cache, k=new_k, v=new_v, index=index + length, key_mask=key_mask)
        return logits, new_cache


def output_head(cfg: ModelConfig, params: Any) -> jax.Array:
    """The output projection [embed, vocab] in the compute dtype: logits = softcap(hidden @ it)."""
    if cfg.tie_embeddings:
        return params["embedding"].astype(cfg.compute_dtype).T
    return params["lm_head"].astype(cfg.compute_dtype)


def init_cache(
    cfg: ModelConfig,
    batch: int,
    max_length: int,
    dtype: Any = jnp.float32,
    per_layer: bool = False,
) -> Cache:
    """An empty KV cache: k/v [layers, batch, kv_heads, max_length, head_dim], no valid slot.

    `per_layer`: k/v as tuples of one [batch, kv_heads, max_length, head_dim] buffer per layer,
    for a model without the layer scan (`unstack_layers`): each layer then reads its cache in
    place, where reading a layer out of the stack copies it every step.
    """
    if per_layer and cfg.scan_layers:
        raise ValueError("init_cache(per_layer=True) needs scan_layers=False (see unstack_layers)")
    shape = (batch, cfg.num_kv_heads, max_length, cfg.head_dim)
    return _empty_cache(cfg.num_layers, shape, dtype, per_layer)


def _empty_cache(
    layers: int, shape: tuple[int, int, int, int], dtype: Any, per_layer: bool
) -> Cache:
    """k/v zeros of `shape` [batch, kv_heads, max_length, head_dim] per layer (a tuple when
    `per_layer`, else stacked), index 0, no valid slot."""

    def zeros() -> jax.Array | tuple[jax.Array, ...]:
        if per_layer:
            return tuple(jnp.zeros(shape, dtype) for _ in range(layers))
        return jnp.zeros((layers, *shape), dtype)

    return {
        "k": zeros(),
        "v": zeros(),
        "index": jnp.zeros((), jnp.int32),
        "key_mask": jnp.zeros((shape[0], shape[2]), bool),
    }


def share_prefix(prompt_cache: Cache, repeats: int, max_length: int) -> Cache:
    """A cache for `repeats` rows per prompt that share the prompts' prefilled cache read-only.

    Rows `b * repeats .. b * repeats + repeats - 1` attend to prompt `b`'s slots (those its
    `key_mask` marks) before their own `max_length` empty slots, as if each row held a copy of
    the prompt's slots: the logits equal `jnp.repeat`-ing the prompt cache (up to float rounding),
    without the copies.

    Args:
      prompt_cache: a prefilled cache, one row per prompt; all of its slots count as the prefix.
      repeats: rows per prompt.
      max_length: the rows' own slots (the tokens they will generate).
    """
    if "prefix_k" in prompt_cache:
        raise ValueError("share_prefix: the prompt cache already shares a prefix")
    first = prompt_cache["k"][0]  # layer 0: [prompts, kv_heads, prefix_len, head_dim]
    prompts, kv_heads, _, head_dim = first.shape
    shape = (prompts * repeats, kv_heads, max_length, head_dim)
    per_layer = isinstance(prompt_cache["k"], tuple)
    return {
        **_empty_cache(len(prompt_cache["k"]), shape, first.dtype, per_layer),
        "prefix_k": prompt_cache["k"],  # [layers, prompts, kv_heads, prefix_len, head_dim]
        "prefix_v": prompt_cache["v"],
        "prefix_mask": prompt_cache["key_mask"],  # [prompts, prefix_len]
    }


def unstack_layers(cfg: ModelConfig, params: Any) -> tuple[ModelConfig, Any]:
    """(config without the layer scan, params with one `layer_{i}` subtree per layer).

    For decoding: inside the token loop, a scan over stacked layers slices (copies) every
    layer's weights each step, about a fifth of a 100M model's decode step on CPU. Unstacked
    once per decode call, each layer's weights are read where they lie. Same logits.
    """
    if not cfg.scan_layers:
        return cfg, params
    stacked = params["layers"]
    out = {k: v for k, v in params.items() if k != "layers"}
    for i in range(cfg.num_layers):
        out[f"layer_{i}"] = jax.tree.map(lambda x, i=i: x[i], stacked)
    return dataclasses.replace(cfg, scan_layers=False), out


def _dummy_inputs() -> tuple[jax.Array, jax.Array]:
    return jnp.zeros((1, 1), jnp.int32), jnp.zeros((1, 1), jnp.int32)


def init_params(cfg: ModelConfig, rng: jax.Array) -> Any:
    """Freshly initialised parameters (plain arrays, logical-axis boxes removed)."""
    variables = Decoder(cfg).init(rng, *_dummy_inputs())
    return nn.meta.unbox(variables["params"])


def abstract_params(cfg: ModelConfig) -> Any:
    """Parameter shapes/dtypes as `jax.ShapeDtypeStruct`s, without allocating anything.

    Safe inside a mesh context: the boxes are opened without sharding constraints (a constraint
    on a ShapeDtypeStruct under an abstract mesh is an error).
    """
    boxed = jax.eval_shape(lambda: Decoder(cfg).init(jax.random.key(0), *_dummy_inputs()))
    return jax.tree.map(
        lambda x: x.unbox(apply_constraint=False) if isinstance(x, nn.meta.AxisMetadata) else x,
        boxed["params"],
        is_leaf=lambda x: isinstance(x, nn.meta.AxisMetadata),
    )


def param_logical_axes(cfg: ModelConfig) -> Any:
    """Pytree (same structure as params) of `PartitionSpec`s of logical axis names."""
    boxed = jax.eval_shape(lambda: Decoder(cfg).init(jax.random.key(0), *_dummy_inputs()))
    return nn.get_partition_spec(boxed)["params"]
