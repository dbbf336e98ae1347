"""XLA:CPU flags every mathft_jax job sets by default, before JAX creates its backend.

`--xla_cpu_use_xnnpack=false`: with XNNPACK on, the tiny model's decode benchmark (N = 64 rows,
width 128) ran 18.5-20.5k tokens/s on 2 cores, and 22.5-25k with it off; a single pinned core was
faster than two with it on, so its threads cost more than they give at these sizes. Measured
neutral on the 100M decode and on both train benchmarks (2026-12-02). XLA's own YNN fusions still
run the matrix products. Other backends ignore XLA:CPU flags.

A flag the user already put in `XLA_FLAGS` wins: only flags it does not mention are added.
"""

import os

DEFAULT_FLAGS = ("--xla_cpu_use_xnnpack=false",)


def apply_default_flags(environ: dict[str, str] | None = None) -> str:
    """Appends each of `DEFAULT_FLAGS` that `XLA_FLAGS` does not set; returns the new value."""
    environ = os.environ if environ is None else environ
    current = environ.get("XLA_FLAGS", "")
    named = {flag.split("=", 1)[0] for flag in current.split()}
    added = [flag for flag in DEFAULT_FLAGS if flag.split("=", 1)[0] not in named]
    value = " ".join([current, *added]).strip()
    if value:
        environ["XLA_FLAGS"] = value
    return value
