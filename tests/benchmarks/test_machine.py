"""`machine.SideProcess`: a benchmark side runs in a process of its own and reports its timings."""

import functools
import os

import pytest

from mathft_jax.benchmarks import machine


def test_side_runs_in_its_own_process_and_reports_timings():
    side = machine.SideProcess(functools.partial, os.getpid)
    try:
        wall, other, own, pid = side.call()
        assert pid != os.getpid()
        assert wall >= 0 and own >= 0 and (other is None or other >= 0)
        assert side.call()[3] == pid  # the same process serves every call
    finally:
        side.close()


def test_a_failing_side_raises_with_its_traceback():
    side = machine.SideProcess(functools.partial, int, "x")
    with pytest.raises(RuntimeError, match="invalid literal for int"):
        side.call()
    side.close()
