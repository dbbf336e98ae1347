"""Shared by the planner tests: gin parsed like `python -m mathft_jax.plan` and cleared after."""

import contextlib

import gin
import pytest

from mathft_jax import gin_flags
from mathft_jax.planning import steps


def libtpu_or_skip() -> None:
    pytest.importorskip("libtpu", reason="libtpu (the test extra) compiles for TPU topologies")


@contextlib.contextmanager
def gin_config(*args: str):
    gin.clear_config()
    steps.register_configurables()
    gin_flags.setup_gin(list(args))
    try:
        yield
    finally:
        gin.clear_config()
