"""`python -m mathft_jax.train` in subprocesses: kill -9 then resume, SIGTERM, and two processes
joined by jax.distributed (gloo) matching one process with the same 8 devices."""

import os
import pathlib
import subprocess
import sys

import pytest
import train_fakes
from subprocess_group import free_port

from mathft_jax.training import metrics_logging

REPO = pathlib.Path(__file__).resolve().parents[2]


def launch(tmp_path, name, steps, extra=(), env_extra=None, devices=1, args=()):
    """Starts one training process on the fake task; returns (Popen, MODEL_DIR)."""
    model_dir = tmp_path / name
    cfg = tmp_path / f"{name}.gin"
    cfg.write_text(train_fakes.gin_text(str(model_dir), steps, extra))
    env = dict(os.environ)
    env.pop("MATHFT_TEST_KILL_AT_STEP", None)
    env.pop("MATHFT_TEST_SIGTERM_AT_STEP", None)
    env.update(
        PYTHONPATH=f"{REPO}{os.pathsep}{REPO / 'tests' / 'training'}",
        XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
        JAX_PLATFORMS="cpu",
        **(env_extra or {}),
    )
    cmd = [sys.executable, "-m", "mathft_jax.train", f"--gin_file={cfg}", *args]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    return proc, model_dir


def finish(proc, timeout=400):
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def final_losses(model_dir):
    """step -> loss, the last logged value of each step (a resumed run re-logs later steps)."""
    return {r["step"]: r["train/loss"] for r in metrics_logging.read_log(str(model_dir))}


@pytest.mark.slow
def test_kill9_then_resume_matches_uninterrupted(tmp_path):
    ref, ref_dir = launch(tmp_path, "ref", 8)
    rc, out = finish(ref)
    assert rc == 0, out[-3000:]
    killed, run_dir = launch(tmp_path, "run", 8, env_extra={"MATHFT_TEST_KILL_AT_STEP": "5"})
    rc, out = finish(killed)
    assert rc == -9, out[-3000:]
    steps = sorted(int(s) for s in os.listdir(run_dir / "checkpoints") if s.isdigit())
    assert steps and max(steps) <= 4
    restarted, _ = launch(tmp_path, "run", 8)
    rc, out = finish(restarted)
    assert rc == 0, out[-3000:]
    assert f"RESUMING from {run_dir} step {max(steps)}" in out
    want, got = final_losses(ref_dir), final_losses(run_dir)
    assert sorted(got) == list(range(1, 9))
    for step in range(1, 9):
        assert got[step] == pytest.approx(want[step], rel=1e-6), step


@pytest.mark.slow
def test_sigterm_saves_and_exits_cleanly(tmp_path):
    proc, model_dir = launch(
        tmp_path, "term", 50, extra=("CheckpointConfig.every = 100",),
        env_extra={"MATHFT_TEST_SIGTERM_AT_STEP": "3"},
    )  # fmt: skip
    rc, out = finish(proc)
    assert rc == 0, out[-3000:]
    assert "stopped by SIGTERM at step 4" in out
    assert sorted(os.listdir(model_dir / "checkpoints")) == ["4"]


@pytest.mark.slow
def test_two_processes_match_one_with_eight_devices(tmp_path):
    extra = ("CheckpointConfig.every = 0",)
    single, single_dir = launch(tmp_path, "single", 3, extra, devices=8)
    rc, out = finish(single)
    assert rc == 0, out[-3000:]
    addr = f"127.0.0.1:{free_port()}"
    procs = [
        launch(
            tmp_path, "multi", 3, extra, devices=4,
            args=(f"--coordinator_address={addr}", "--num_processes=2", f"--process_id={i}"),
        )[0]
        for i in range(2)
    ]  # fmt: skip
    results = [finish(p) for p in procs]
    for rc, out in results:
        assert rc == 0, out[-3000:]
    assert "'data': 8" in results[0][1]  # one mesh over both processes' devices
    want, got = final_losses(single_dir), final_losses(tmp_path / "multi")
    assert sorted(got) == [1, 2, 3]
    for step in got:
        assert got[step] == pytest.approx(want[step], rel=1e-5), step
