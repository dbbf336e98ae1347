"""Compile-only TPU planning: per-chip memory, model FLOPs, roofline bounds and collectives of the
jobs' own step functions, compiled for a TPU topology on any host (`python -m mathft_jax.plan`)."""
