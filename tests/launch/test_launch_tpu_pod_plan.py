"""launch/tpu_pod.sh --topology: the plan runs first; a job that does not fit is refused (--force
runs it). The plan's interpreter is a fake that prints figures and exits as the real one would
(0 fits, 3 does not fit); tests/planning/ runs the real planner."""

import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
ARGS = [
    "--tpu", "pod-1", "--zone", "us-central2-b", "--stage", "train", "--skip_setup",
    "--model_dir", "gs://bucket/runs/ssft", "--gin_file=gin/ssft.gin",
    "--gin_file=gin/models/llama3_1b.gin", "--gin.BATCH_SIZE=64", "--dry_run",
]  # fmt: skip
FAKE_PLAN = """#!/bin/bash
echo "$0 $*" >> "$FAKE_PLAN_LOG"
echo "train on v5e:2x2: DOES NOT FIT: needs 19.97 GiB of 16.00 GiB per chip"
exit ${FAKE_PLAN_RC:-0}
"""


def _plan(tmp_path: pathlib.Path, rc: int) -> dict[str, str]:
    fake = tmp_path / "plan_python"
    fake.write_text(FAKE_PLAN)
    fake.chmod(0o755)
    return {
        "MATHFT_PLAN_PYTHON": str(fake),
        "FAKE_PLAN_RC": str(rc),
        "FAKE_PLAN_LOG": str(tmp_path / "plan.log"),
    }


def test_job_that_does_not_fit_is_refused_with_the_figures(run_script, fakes, tmp_path):
    fakes.add("gcloud")
    r = run_script("tpu_pod.sh", [*ARGS, "--topology", "v5e:2x2"], env=_plan(tmp_path, 3))
    assert r.returncode != 0
    assert "DOES NOT FIT: needs 19.97 GiB of 16.00 GiB" in r.stderr
    assert "does not fit on v5e:2x2" in r.stderr and "--force" in r.stderr
    assert r.stdout == ""  # no gcloud command printed: the job is not started
    plan_args = (tmp_path / "plan.log").read_text().split()[1:]
    assert plan_args == [
        "-m", "mathft_jax.plan", "--topology=v5e:2x2", "--stage=train", "--gin_file=gin/ssft.gin",
        "--gin_file=gin/models/llama3_1b.gin", "--gin.BATCH_SIZE=64",
        "--gin.MODEL_DIR=gs://bucket/runs/ssft",
    ]  # fmt: skip


def test_force_runs_a_job_that_does_not_fit(run_script, fakes, tmp_path):
    fakes.add("gcloud")
    r = run_script("tpu_pod.sh", [*ARGS, "--topology=v5e:2x2", "--force"], env=_plan(tmp_path, 3))
    assert r.returncode == 0, r.stderr
    assert "running anyway (--force)" in r.stderr
    assert "mathft_jax.train" in r.stdout


def test_job_that_fits_runs(run_script, fakes, tmp_path):
    fakes.add("gcloud")
    r = run_script("tpu_pod.sh", [*ARGS, "--topology=v5e:4x4"], env=_plan(tmp_path, 0))
    assert r.returncode == 0, r.stderr
    assert "mathft_jax.train" in r.stdout
    assert (tmp_path / "plan.log").exists()


def test_without_topology_no_plan_runs_and_says_so(run_script, fakes, tmp_path):
    fakes.add("gcloud")
    r = run_script("tpu_pod.sh", ARGS, env=_plan(tmp_path, 3))
    assert r.returncode == 0, r.stderr
    assert "no --topology given" in r.stderr
    assert not (tmp_path / "plan.log").exists()
