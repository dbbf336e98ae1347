"""launch/tpu_pod.sh: the exact gcloud commands, in --dry_run and with a fake gcloud on PATH."""

import pathlib
import shlex
import subprocess
import tarfile

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]

ARGS = [
    "--tpu", "pod-1", "--zone", "us-central2-b", "--project", "proj", "--stage", "train",
    "--model_dir", "gs://bucket/runs/ssft",
    "--gin_file", "gin/models/tiny.gin", "--gin_file=gin/ssft.gin",
    "--gin.TRAIN_STEPS=20", "--gin.MIXTURE_OR_TASK_NAME=math ssft's",
    "--env", "MATHFT_DATA_DIR=gs://bucket/math",
]  # fmt: skip
GCLOUD = ["gcloud", "compute", "tpus", "tpu-vm"]
TARGET = ["--zone=us-central2-b", "--project=proj", "--worker=all"]
SETUP = (
    "set -e; rm -rf mathft_jax && mkdir -p mathft_jax && tar -xzf /tmp/mathft_jax_code.tar.gz "
    "-C mathft_jax && cd mathft_jax && python3 -m pip install --quiet -e . 'jax[tpu]'"
)
# The remote command exactly (bash's '\'' quoting), and what the worker's shell makes of it.
RUN = (
    "cd mathft_jax && env MATHFT_MULTIHOST=1 MATHFT_DATA_DIR=gs://bucket/math python3 -m "
    "mathft_jax.train --gin_file=gin/models/tiny.gin --gin_file=gin/ssft.gin --gin.TRAIN_STEPS=20 "
    "'--gin.MIXTURE_OR_TASK_NAME=math ssft'\\''s' --gin.MODEL_DIR=gs://bucket/runs/ssft"
)
STAGE_WORDS = [
    "env", "MATHFT_MULTIHOST=1", "MATHFT_DATA_DIR=gs://bucket/math",
    "python3", "-m", "mathft_jax.train",
    "--gin_file=gin/models/tiny.gin", "--gin_file=gin/ssft.gin", "--gin.TRAIN_STEPS=20",
    "--gin.MIXTURE_OR_TASK_NAME=math ssft's", "--gin.MODEL_DIR=gs://bucket/runs/ssft",
]  # fmt: skip


def _lines(stdout: str) -> list[list[str]]:
    return [shlex.split(line) for line in stdout.splitlines() if line.strip()]


def _expected(tmp_path) -> list[list[str]]:
    tarball = f"{tmp_path}/mathft_jax-pod-1.tar.gz"
    return [
        ["git", "-C", str(REPO_ROOT), "archive", "--format=tar.gz", f"--output={tarball}", "HEAD"],
        [*GCLOUD, "scp", tarball, "pod-1:/tmp/mathft_jax_code.tar.gz", *TARGET],
        [*GCLOUD, "ssh", "pod-1", *TARGET, f"--command={SETUP}"],
        [*GCLOUD, "ssh", "pod-1", *TARGET, f"--command={RUN}"],
    ]


def test_dry_run_prints_every_command_and_runs_none(run_script, fakes, tmp_path):
    fakes.add("gcloud")
    result = run_script("tpu_pod.sh", [*ARGS, "--dry_run"])
    assert result.returncode == 0, result.stderr
    assert _lines(result.stdout) == _expected(tmp_path)
    assert fakes.calls() == []
    assert not (tmp_path / "mathft_jax-pod-1.tar.gz").exists()


def test_fake_gcloud_receives_the_dry_run_commands(run_script, fakes, tmp_path):
    fakes.add("gcloud")
    result = run_script("tpu_pod.sh", ARGS)
    assert result.returncode == 0, result.stderr
    assert fakes.calls() == _expected(tmp_path)[1:]  # git archive ran for real, not via a fake
    with tarfile.open(tmp_path / "mathft_jax-pod-1.tar.gz") as tar:
        names = set(tar.getnames())
    assert {"setup.py", "launch/tpu_pod.sh", "mathft_jax/__init__.py"} <= names


def test_remote_stage_command_survives_the_worker_shell(run_script, fakes, tmp_path):
    """Runs the --command a worker gets in bash, against a fake python3: quoting round-trips."""
    fakes.add("gcloud", "python3")
    assert run_script("tpu_pod.sh", [*ARGS, "--skip_setup"]).returncode == 0
    (command,) = [c[-1] for c in fakes.calls()]
    assert command == f"--command={RUN}"
    assert shlex.split(RUN) == ["cd", "mathft_jax", "&&", *STAGE_WORDS]
    (tmp_path / "mathft_jax").mkdir()
    subprocess.run(
        ["bash", "-c", command.removeprefix("--command=")],
        cwd=tmp_path,
        env={"PATH": f"{fakes.bin}:/usr/bin:/bin", "FAKE_LOG": str(fakes.log)},
        check=True,
    )
    *_, python_call = fakes.calls()
    assert python_call[:-1] == STAGE_WORDS[3:]
    assert python_call[-1] == {"MATHFT_MULTIHOST": "1", "MATHFT_DATA_DIR": "gs://bucket/math"}


def test_git_mode_decode_stage_without_project(run_script, fakes):
    fakes.add("gcloud")
    args = ["--tpu=pod-2", "--zone=z1", "--stage=decode", "--git_url=https://example.com/m.git"]
    args += ["--ref=v1.2", "--workdir=code/mft", "--gin_file=gin/decode.gin", "--", "--extra=1"]
    result = run_script("tpu_pod.sh", args)
    assert result.returncode == 0, result.stderr
    setup = (
        "set -e; (test -d code/mft/.git || git clone --quiet https://example.com/m.git code/mft) "
        "&& git -C code/mft fetch --quiet origin v1.2 "
        "&& git -C code/mft checkout --quiet --detach FETCH_HEAD "
        "&& cd code/mft && python3 -m pip install --quiet -e . 'jax[tpu]'"
    )
    stage = (
        "cd code/mft && env MATHFT_MULTIHOST=1 python3 -m mathft_jax.decode "
        "--gin_file=gin/decode.gin --extra=1"
    )
    target = ["--zone=z1", "--worker=all"]
    assert fakes.calls() == [
        [*GCLOUD, "ssh", "pod-2", *target, f"--command={setup}"],
        [*GCLOUD, "ssh", "pod-2", *target, f"--command={stage}"],
    ]


@pytest.mark.parametrize(
    ("drop", "extra", "message"),
    [
        ("--tpu", [], "--tpu NAME is required"),
        ("--zone", [], "--zone ZONE is required"),
        ("--stage", [], "--stage is required"),
        (None, ["--stage", "pretrain"], "--stage 'pretrain' is not one of"),
        (None, ["--model_dir", "/local/runs"], "--model_dir must be a gs:// path"),
        (None, ["--workdir", "../x"], "--workdir must be a relative path"),
        (None, ["--env", "no_equals"], "--env expects KEY=VALUE"),
        (None, ["--bogus"], "unknown argument '--bogus'"),
        (None, ["--zone"], "--zone needs a value"),
    ],
)
def test_bad_arguments_fail_clearly_before_any_command(run_script, fakes, drop, extra, message):
    fakes.add("gcloud")
    args = ["--tpu", "p", "--zone", "z", "--stage", "train"]
    if drop:
        i = args.index(drop)
        del args[i : i + 2]
    result = run_script("tpu_pod.sh", [*args, *extra])
    assert result.returncode == 2
    assert message in result.stderr and "--help" in result.stderr
    assert fakes.calls() == []


def test_help_lists_every_option(run_script):
    result = run_script("tpu_pod.sh", ["--help"])
    assert result.returncode == 0
    for option in ("--tpu", "--zone", "--project", "--stage", "--model_dir", "--dry_run"):
        assert option in result.stdout
