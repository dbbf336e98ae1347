"""Alias of `mathft_jax.models.transformer` (the name `inference.decoding.decoder_fns` imports)."""

from mathft_jax.models.transformer import (  # noqa: F401
    Cache,
    Decoder,
    abstract_params,
    init_cache,
    init_params,
    param_logical_axes,
    share_prefix,
    unstack_layers,
)
