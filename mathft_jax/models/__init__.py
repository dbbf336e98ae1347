"""Decoder-only transformer (logical axes), model configs, HF checkpoint import/export."""

from mathft_jax.models.config import ModelConfig  # noqa: F401
from mathft_jax.models.transformer import Decoder, init_cache  # noqa: F401
