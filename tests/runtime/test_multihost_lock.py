"""A lock refused to process 0 stops every process of a multi-host job (none waits in a collective
for a job that never starts); a free lock lets the job go on together. Real 2-process JAX jobs over
loopback (gloo)."""

import os
import pathlib
import subprocess
import sys

import pytest
from subprocess_group import free_port

from mathft_jax import locks

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _two_processes(target: pathlib.Path) -> list:
    port = free_port()
    procs = []
    for rank in range(2):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MATHFT_")}
        env.update(
            MATHFT_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
            MATHFT_NUM_PROCESSES="2",
            MATHFT_PROCESS_ID=str(rank),
            PYTHONPATH=f"{HERE.parent}{os.pathsep}{REPO}",
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, str(HERE / "lock_probe.py"), str(target)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )  # fmt: skip
        )
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            results.append((proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
    return results


@pytest.mark.slow
def test_a_lock_held_elsewhere_stops_both_processes_naming_the_holder(tmp_path):
    with locks.hold(tmp_path, "holder", is_dir=True):
        results = _two_processes(tmp_path)
    for code, out, err in results:
        assert code == 3, (out, err[-2000:])
        refused = [line for line in out.splitlines() if line.startswith("refused: ")]
        assert refused and f"pid {os.getpid()}" in refused[0], out


@pytest.mark.slow
def test_a_free_lock_lets_both_processes_go_on(tmp_path):
    results = _two_processes(tmp_path)
    outs = sorted(line for _, out, _ in results for line in out.splitlines() if "acquired" in line)
    assert [code for code, _, _ in results] == [0, 0], results
    assert outs == ["acquired: False", "acquired: True"]
