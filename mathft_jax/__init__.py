"""mathft_jax: the math fine-tuning recipe of Liu et al. (2023) in JAX/Flax."""

__version__ = "0.1.0"
