"""host_memory: with it a jitted step reuses freed host buffers; without it, it faults in fresh pages."""

import os
import subprocess
import sys

import pytest

from mathft_jax import host_memory

# Runs in a fresh process (the setting must precede JAX's backend): a jitted step whose outputs
# and temporaries (~64 MB each) are freed every call, then the minor page faults of 3 warm calls.
STEP_FAULTS = """
import resource, sys
from mathft_jax import host_memory
print(host_memory.keep_freed_memory())
import jax, jax.numpy as jnp
step = jax.jit(lambda x: (jnp.tanh(x * 2.0) + 1.0, jnp.exp(x).sum()))
x = jnp.ones((4096, 4096))
for _ in range(2):
    jax.block_until_ready(step(x))
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    jax.block_until_ready(step(x))
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(keep: str) -> tuple[str, int]:
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
    assert faults < 2_000  # 3 steps x 64 MB of fresh pages would be ~48k faults
    took, faults = _faults("0")
    assert took == "False"
    assert faults > 10_000  # the default allocator faults them in again every step


def test_disabled_does_nothing():
    assert host_memory.keep_freed_memory(False) is False
