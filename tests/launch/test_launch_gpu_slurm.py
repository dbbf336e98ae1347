"""launch/gpu_slurm.sh: coordinator from scontrol, the exact srun command, per-task process ids."""

import pathlib
import shlex

import pytest

LAUNCH = pathlib.Path(__file__).resolve().parents[2] / "launch"

TRAIN_TASK = 'export MATHFT_PROCESS_ID="$SLURM_PROCID"; exec "$@" --process_id="$SLURM_PROCID"'
OTHER_TASK = 'export MATHFT_PROCESS_ID="$SLURM_PROCID"; exec "$@"'


@pytest.fixture
def slurm_env(tmp_path):
    return {
        "SLURM_JOB_NODELIST": "gpu[07-08]",
        "SLURM_NTASKS": "2",
        "SLURM_SUBMIT_DIR": str(tmp_path / "repo"),
        "FAKE_HOSTS": "gpu07 gpu08",
    }


def _train_args(fakes):
    return [
        "--stage", "train", "--gin_file", "gin/ssft.gin", "--gin.MODEL_DIR=/shared/runs/a b",
        "--env", "MATHFT_DATA_DIR=/shared/math", "--python", str(fakes.bin / "python3"),
    ]  # fmt: skip


def _srun(tmp_path, fakes):
    python = str(fakes.bin / "python3")
    return [
        "srun", "--ntasks=2", "--kill-on-bad-exit=1", f"--chdir={tmp_path}/repo",
        "bash", "-c", TRAIN_TASK, "mathft_jax_task",
        "env", "MATHFT_COORDINATOR_ADDRESS=gpu07:8476", "MATHFT_NUM_PROCESSES=2",
        "MATHFT_DATA_DIR=/shared/math", python, "-m", "mathft_jax.train",
        "--gin_file=gin/ssft.gin", "--gin.MODEL_DIR=/shared/runs/a b",
        "--coordinator_address=gpu07:8476", "--num_processes=2",
    ]  # fmt: skip


def test_dry_run_prints_the_srun_command(run_script, fakes, slurm_env, tmp_path):
    fakes.add("scontrol", "srun")
    result = run_script("gpu_slurm.sh", [*_train_args(fakes), "--dry_run"], slurm_env)
    assert result.returncode == 0, result.stderr
    assert [shlex.split(line) for line in result.stdout.splitlines()] == [_srun(tmp_path, fakes)]
    # Only the read-only host query ran.
    assert fakes.calls() == [["scontrol", "show", "hostnames", "gpu[07-08]"]]


def test_fake_srun_starts_every_task_with_its_process_id(run_script, fakes, slurm_env, tmp_path):
    fakes.add("scontrol", "srun", "python3")
    result = run_script("gpu_slurm.sh", _train_args(fakes), slurm_env)
    assert result.returncode == 0, result.stderr
    scontrol, srun, *tasks = fakes.calls()
    assert scontrol == ["scontrol", "show", "hostnames", "gpu[07-08]"]
    assert srun == _srun(tmp_path, fakes)
    stage_args = _srun(tmp_path, fakes)[13:]
    assert tasks == [
        [
            "python3", *stage_args, f"--process_id={i}",
            {
                "MATHFT_COORDINATOR_ADDRESS": "gpu07:8476", "MATHFT_NUM_PROCESSES": "2",
                "MATHFT_PROCESS_ID": str(i), "MATHFT_DATA_DIR": "/shared/math",
            },
        ]
        for i in range(2)
    ]  # fmt: skip


def test_other_stages_get_env_but_no_distributed_flags(run_script, fakes, slurm_env, tmp_path):
    fakes.add("scontrol", "srun", "python3")
    args = ["--stage=score", "--gin_file=gin/score.gin", "--port=9000", f"--repo={tmp_path}"]
    args += ["--python", str(fakes.bin / "python3"), "--", "--extra", "x"]
    result = run_script("gpu_slurm.sh", args, {**slurm_env, "FAKE_HOSTS": "hostA hostB"})
    assert result.returncode == 0, result.stderr
    _, srun, first, _ = fakes.calls()
    assert srun[:8] == [
        "srun", "--ntasks=2", "--kill-on-bad-exit=1", f"--chdir={tmp_path}",
        "bash", "-c", OTHER_TASK, "mathft_jax_task",
    ]  # fmt: skip
    assert first[:-1] == ["python3", "-m", "mathft_jax.score", "--gin_file=gin/score.gin"] + [
        "--extra",
        "x",
    ]
    assert first[-1]["MATHFT_COORDINATOR_ADDRESS"] == "hostA:9000"
    assert first[-1]["MATHFT_PROCESS_ID"] == "0"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--stage", "train"], {"SLURM_NTASKS": None}, "submit with 'sbatch"),
        ([], {}, "--stage is required"),
        (["--stage", "eval"], {}, "--stage 'eval' is not one of"),
        (["--stage", "train", "--port", "x1"], {}, "--port must be a number"),
        (["--stage", "train"], {"FAKE_HOSTS": ""}, "printed no host"),
        (["--stage", "train", "--gin_file"], {}, "--gin_file needs a value"),
    ],
)
def test_bad_arguments_fail_clearly(run_script, fakes, slurm_env, args, env, message):
    fakes.add("scontrol", "srun")
    full_env = {k: v for k, v in {**slurm_env, **env}.items() if v is not None}
    result = run_script("gpu_slurm.sh", args, full_env)
    assert result.returncode == 2
    assert message in result.stderr
    assert not any(call[0] == "srun" for call in fakes.calls())


def test_sbatch_directives_precede_the_first_command():
    """sbatch stops reading #SBATCH lines at the first command."""
    lines = (LAUNCH / "gpu_slurm.sh").read_text().splitlines()
    first_command = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
    directives = [i for i, line in enumerate(lines) if line.startswith("#SBATCH")]
    assert directives and max(directives) < first_command
    assert "#SBATCH --ntasks-per-node=1" in lines
