"""What every job entry point (train, decode, score) does first: logging, joining the multi-host
job (`mathft_jax.distributed`), then the T5X-style gin flags (`mathft_jax.gin_flags`)."""

import logging
from collections.abc import Sequence

from mathft_jax import distributed, gin_flags

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def start_job(argv: Sequence[str]) -> None:
    """Sets up logging, `jax.distributed` (flags or env) and gin from argv (no program name)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    # Orbax and TensorFlow log every file operation at INFO through absl; keep their warnings.
    logging.getLogger("absl").setLevel(logging.WARNING)
    gin_args, settings = distributed.split_flags(argv)
    distributed.initialize(settings)
    gin_flags.setup_gin(gin_args)
