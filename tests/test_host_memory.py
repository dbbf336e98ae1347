"""host_memory: with it a jitted step reuses freed host buffers; without it, it faults in fresh pages."""

import os
import subprocess
import sys

import pytest

from mathft_jax import host_memory

# Runs in a fresh process (the settings must come before the threads that allocate): a 100 MB
# block is malloc'd, touched and freed twice, as XLA does with a step's buffers; prints the minor
# page faults of the second round. The effect on a real train step is in benchmarks/train.py
# (100m: ~320k faults a step before, 0 after).
STEP_FAULTS = """
import ctypes, resource
from mathft_jax import host_memory
print(host_memory.keep_freed_memory())
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
size = 100 * 2**20
for _ in range(2):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(keep: str) -> tuple[str, int]:
    """(whether the setting took, minor faults of the second round) in a fresh process."""
    env = dict(os.environ, **{host_memory.ENV: keep})
    out = subprocess.run(
        [sys.executable, "-c", STEP_FAULTS], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    took, faults = out.stdout.split()
    return took, int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_freed_buffers_are_reused_instead_of_faulted_in_anew():
    took, faults = _faults("1")
    assert took == "True"
    assert faults < 1_000  # 100 MB of fresh pages would be ~25k faults
    took, faults = _faults("0")
    assert took == "False"
    assert faults > 10_000  # by default glibc mmaps the block anew and faults it in again


def test_disabled_does_nothing():
    assert host_memory.keep_freed_memory(False) is False
