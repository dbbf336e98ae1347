"""`JobError`: a failure a job entry point reports in one line (`error: ...`), not a traceback.

No JAX import: `cli` catches it before anything heavy is loaded.
"""


class JobError(RuntimeError):
    """The message says all a user needs (what failed, which path, what to do)."""


class BadCheckpoint(ValueError, JobError):
    """A checkpoint that does not fit the model config, or a damaged checkpoint file."""
