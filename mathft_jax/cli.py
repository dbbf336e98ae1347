"""What every job entry point (train, decode, score) does: glibc set to reuse freed host memory
(`mathft_jax.host_memory`), logging, joining the multi-host job
(`mathft_jax.distributed`), the T5X-style gin flags (`mathft_jax.gin_flags`), then the job."""

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import gin

from mathft_jax import distributed, gin_flags, host_memory
from mathft_jax.errors import JobError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
T = TypeVar("T")


def run_job(argv: Sequence[str], job: Callable[[], T]) -> T:
    """Sets up logging, `jax.distributed` (flags or env) and gin from argv (no program name), then
    returns `job()`.

    gin is finalized first, so a macro left at `%gin.REQUIRED` (MODEL_DIR, CHECKPOINT_PATH, ...)
    or a reference to an unknown configurable fails before any work, naming it. The job then runs
    with the config unlocked because modules imported lazily (TensorFlow-heavy data code) register
    their configurables on import.
    """
    host_memory.keep_freed_memory()  # before JAX's backend exists (see host_memory)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    # Orbax and TensorFlow log every file operation at INFO through absl; keep their warnings.
    logging.getLogger("absl").setLevel(logging.WARNING)
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)  # "no TPU/GPU here"
    gin_args, settings = distributed.split_flags(argv)
    distributed.initialize(settings)
    try:
        gin_flags.setup_gin(gin_args, finalize=True)
    except gin_flags.GinBindingError as err:  # one line naming the binding, not a traceback
        raise SystemExit(f"error: {err}") from None
    with gin.unlock_config():
        try:
            return job()
        except JobError as err:  # a full disk, no usable checkpoint, ...: one line
            # gin appends "In call to configurable ..." lines: the first line says it all.
            raise SystemExit(f"error: {str(err).splitlines()[0]}") from None
