"""launch/local.sh: commands per process, failure handling, and a real 2-process JAX job on loopback."""

import json
import os
import pathlib
import shlex
import sys

import pytest
from subprocess_group import free_port

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _lines(stdout: str) -> list[list[str]]:
    return [shlex.split(line) for line in stdout.splitlines() if line.strip()]


def test_single_process_dry_run(run_script):
    result = run_script("local.sh", ["--stage", "decode", "--gin_file=gin/decode.gin", "--dry_run"])
    assert result.returncode == 0, result.stderr
    assert _lines(result.stdout) == [
        ["env", "python3", "-m", "mathft_jax.decode", "--gin_file=gin/decode.gin"]
    ]


def test_multi_process_dry_run_gives_each_process_its_id(run_script):
    args = ["--num_processes=2", "--devices_per_process=4", "--port=9100", "--stage=train"]
    args += ["--gin_file", "gin/ssft.gin", "--gin.MODEL_DIR=runs/x", "--env", "MATHFT_DATA_DIR=/d"]
    result = run_script("local.sh", [*args, "--dry_run"])
    assert result.returncode == 0, result.stderr
    expected = [
        [
            "env", "JAX_PLATFORMS=cpu", "XLA_FLAGS=--xla_force_host_platform_device_count=4",
            "JAX_CPU_COLLECTIVES_IMPLEMENTATION=gloo", "MATHFT_COORDINATOR_ADDRESS=127.0.0.1:9100",
            "MATHFT_NUM_PROCESSES=2", f"MATHFT_PROCESS_ID={i}", "MATHFT_DATA_DIR=/d",
            "python3", "-m", "mathft_jax.train", "--gin_file=gin/ssft.gin", "--gin.MODEL_DIR=runs/x",
            "--coordinator_address=127.0.0.1:9100", "--num_processes=2", f"--process_id={i}",
        ]
        for i in range(2)
    ]  # fmt: skip
    assert _lines(result.stdout) == expected


def test_fake_python_runs_once_per_process(run_script, fakes, tmp_path):
    fakes.add("python3")
    args = ["--num_processes", "3", "--stage", "score", "--gin_file", "gin/score.gin"]
    args += ["--python", str(fakes.bin / "python3"), "--log_dir", str(tmp_path / "logs")]
    result = run_script("local.sh", args)
    assert result.returncode == 0, result.stderr
    calls = sorted(fakes.calls(), key=lambda c: c[-1]["MATHFT_PROCESS_ID"])
    # Only the trainer takes distributed flags; every stage gets them in env.
    assert [c[:-1] for c in calls] == [
        ["python3", "-m", "mathft_jax.score", "--gin_file=gin/score.gin"]
    ] * 3
    assert [c[-1]["MATHFT_PROCESS_ID"] for c in calls] == ["0", "1", "2"]
    assert {c[-1]["MATHFT_NUM_PROCESSES"] for c in calls} == {"3"}
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == [
        f"process_{i}.log" for i in range(3)
    ]


def test_a_failing_process_stops_the_job_and_shows_its_log(run_script, tmp_path):
    fake = tmp_path / "py"
    fake.write_text(
        "#!/bin/bash\n"
        'if [[ $MATHFT_PROCESS_ID == 1 ]]; then echo "boom in 1"; exit 3; fi\n'
        "exec sleep 30\n"  # the healthy process would wait forever for its peer
    )
    fake.chmod(0o755)
    args = ["--num_processes", "2", "--module", "anything", "--python", str(fake)]
    result = run_script("local.sh", [*args, "--log_dir", str(tmp_path / "logs")])
    assert result.returncode == 3
    assert "process 1 failed (exit 3)" in result.stderr and "boom in 1" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--stage STAGE"),
        (["--stage", "train", "--module", "m"], "not both"),
        (["--stage", "fit"], "--stage 'fit' is not one of"),
        (["--module", "m", "--num_processes", "0"], "--num_processes must be >= 1"),
        (["--module", "m", "--devices_per_process", "x"], "--devices_per_process must be >= 1"),
    ],
)
def test_bad_arguments_fail_clearly(run_script, args, message):
    result = run_script("local.sh", args)
    assert result.returncode == 2 and message in result.stderr


def _probe_job(run_script, tmp_path, *probe_args: str) -> list[dict]:
    """Runs distributed_probe.py as 2 processes x 2 fake devices; its JSON line from each."""
    args = ["--num_processes", "2", "--devices_per_process", "2", "--port", str(free_port())]
    args += ["--module", "distributed_probe", "--env", f"PYTHONPATH={HERE}{os.pathsep}{REPO}"]
    args += ["--python", sys.executable, "--log_dir", str(tmp_path), "--", *probe_args]
    result = run_script("local.sh", args)
    assert result.returncode == 0, result.stderr
    outputs = []
    for i in range(2):
        lines = (tmp_path / f"process_{i}.log").read_text().splitlines()
        outputs.append(json.loads(next(line for line in lines if line.startswith("{"))))
    return outputs


# Process p holds (p + 1) on each of its 2 devices: the global sum is 1 + 1 + 2 + 2.
EXPECTED = [{"process": i, "processes": 2, "devices": 4, "sum": 6.0} for i in range(2)]


def test_two_processes_form_one_jax_job_over_gloo(run_script, tmp_path):
    """A real multi-host job on fake CPU devices: a cross-process sum sees every device."""
    assert _probe_job(run_script, tmp_path) == EXPECTED


def test_mathft_distributed_joins_the_job(run_script, tmp_path):
    assert _probe_job(run_script, tmp_path, "--via_train") == EXPECTED


@pytest.mark.slow
def test_two_process_training_run_through_local_sh(run_script, tmp_path):
    """launch/local.sh + the real trainer: 2 processes x 2 devices train 2 steps, one checkpoint."""
    model_dir = tmp_path / "model"
    args = ["--num_processes", "2", "--devices_per_process", "2", "--port", str(free_port())]
    args += ["--stage", "train", "--python", sys.executable, "--log_dir", str(tmp_path / "logs")]
    args += ["--gin_file", "gin/ssft.gin", f"--gin.MODEL_DIR={model_dir}", "--gin.TRAIN_STEPS=2"]
    args += ["--gin.BATCH_SIZE=4", "--gin.WARMUP_STEPS=0", "--gin.ValidationConfig.every=0"]
    args += ["--gin.CheckpointConfig.every=2"]
    result = run_script("local.sh", args, cwd=REPO, timeout=400)
    assert result.returncode == 0, result.stderr
    for i in range(2):
        log = (tmp_path / "logs" / f"process_{i}.log").read_text()
        assert "mesh {'data': 4," in log  # one job over both processes' devices
        assert "done: step 2 (scratch start)" in log
    assert [p.name for p in (model_dir / "checkpoints").iterdir()] == ["2"]
