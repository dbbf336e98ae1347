"""What every job entry point (train, decode, score) does: glibc set to reuse freed host memory
(`mathft_jax.host_memory`), logging, joining the multi-host job
(`mathft_jax.distributed`), the T5X-style gin flags (`mathft_jax.gin_flags`), then the job."""

import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import gin

from mathft_jax import distributed, gin_flags, host_memory, locks
from mathft_jax.errors import JobError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
T = TypeVar("T")


def _without_traceback(record: logging.LogRecord) -> bool:
    """Orbax logs each failure of its background threads with a traceback; the job reports the
    failure itself (`checkpoints.SaveWatcher`), so their first line is enough."""
    if record.levelno < logging.ERROR:
        return True
    msg = record.getMessage()
    if msg.startswith("[process=") or "orbax" in msg:  # orbax's records ("[process=0][thread=")
        record.msg, record.args = (msg.splitlines() or [""])[0][:300], None
        record.exc_info = record.exc_text = None
    return True


def _quiet_closed_event_loops() -> None:
    """After a failed async save, tensorstore callbacks into orbax's closed asyncio loops print
    `RuntimeError: Event loop is closed` tracebacks (through sys.excepthook): drop those."""
    hook = sys.excepthook

    def quiet(kind: type, value: BaseException, tb: Any) -> None:
        if kind is RuntimeError and str(value) == "Event loop is closed":
            return
        hook(kind, value, tb)

    sys.excepthook = quiet


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
    logging.getLogger("absl").addFilter(_without_traceback)  # a failed async save: 1 line each
    _quiet_closed_event_loops()
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
        except locks.LockHeldError as err:  # one line naming the job holding the lock
            raise SystemExit(f"error: {err}") from None
        except JobError as err:  # a full disk, no usable checkpoint, ...: one line
            # gin appends "In call to configurable ..." lines: the first line says it all.
            raise SystemExit(f"error: {str(err).splitlines()[0]}") from None
