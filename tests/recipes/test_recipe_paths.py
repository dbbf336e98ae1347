"""The recipe's own files (stage logs, DONE markers, chosen checkpoints, reports, the plot) under a
local WORK_DIR and a gs:// one. gs:// is a fake bucket: epath's gs:// backend swapped for one that
keeps `gs://bucket/...` under a local folder (no network here)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from etils import epath

from mathft_jax import paths_io
from mathft_jax.evaluation import report
from mathft_jax.recipes import paper


@pytest.fixture(params=["local", "gs"])
def work(request, tmp_path):
    """(WORK_DIR as the recipe gets it, the local folder that holds its files)."""
    if request.param == "local":
        return str(tmp_path / "work"), tmp_path / "work"
    root = request.getfixturevalue("bucket")
    return "gs://bucket/work", root / "bucket" / "work"


def test_stage_files_chosen_checkpoint_and_report(work):
    work_dir, folder = work
    root = paths_io.as_path(work_dir)
    record = paper.run_stage("hello", root, "this", [])  # `python -m this`: prints, exits 0
    assert record["stage"] == "hello"
    assert "Beautiful is better than ugly" in (folder / "hello" / "log.txt").read_text()
    assert json.loads((folder / "hello" / "DONE.json").read_text()) == record
    assert paper.run_stage("hello", root, "this", []) == record  # done: skipped

    paths_io.makedirs(f"{work_dir}/ssft/model")
    paths_io.write_json(f"{work_dir}/ssft/model/best_checkpoint.json", {"path": "/ck/7"})
    assert paper.chosen_checkpoint(root / "ssft" / "model") == "/ck/7"

    rows = [
        {"unique_id": f"p{i}", "problem": "?", "answer": "1",
         "samples": ["\\boxed{1}", "\\boxed{2}"], "verifier_scores": [0.9, 0.1]}
        for i in range(2)
    ]  # fmt: skip
    scored = root / "score" / "scored.jsonl"
    scored.parent.mkdir(parents=True, exist_ok=True)
    scored.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = paper.RecipeConfig(work_dir=work_dir, ks=(1, 2))
    result = paper.evaluate_stage(cfg, root, "evaluate", scored)
    assert result["by_n"]["2"]["rerank_all"]["mean"] == 1.0
    assert result["candidates"] == f"{work_dir}/score/scored.jsonl"
    names = sorted(p.name for p in (folder / "evaluate").iterdir())
    assert names == ["DONE.json", "metrics.json", "metrics.md", "metrics_vs_n.png"]
    assert paper.evaluate_stage(cfg, root, "evaluate", scored) == json.loads(
        (folder / "evaluate" / "metrics.json").read_text()
    )  # done: read back, not graded again
    report.plot_vs_n({"ssft": result}, root / "metrics_vs_n.png")  # gs:// too
    assert (folder / "metrics_vs_n.png").read_bytes()[:4] == b"\x89PNG"


def test_stage_paths_handed_to_jobs_keep_the_url(bucket):
    assert paper._quote(epath.Path("gs://bucket/work") / "ssft" / "model") == (
        "'gs://bucket/work/ssft/model'"
    )


def test_a_stage_done_with_other_settings_is_not_reused(tmp_path):
    work = epath.Path(tmp_path)
    (work / "ssft").mkdir()
    done = {"stage": "ssft", "command": ["/old/python", "-m", "mathft_jax.train", "--gin.A=1"]}
    (work / "ssft" / "DONE.json").write_text(json.dumps(done))
    # Same job and settings from another interpreter: skipped, its record returned.
    assert paper.run_stage("ssft", work, "mathft_jax.train", ["--gin.A=1"]) == done
    with pytest.raises(ValueError, match=r"'ssft' was done with other settings.*--gin.A=2"):
        paper.run_stage("ssft", work, "mathft_jax.train", ["--gin.A=2"])


SLEEPER = "import os, time\nprint('child pid', os.getpid(), flush=True)\ntime.sleep(120)\n"
RECIPE = (
    "import sys\nfrom etils import epath\nfrom mathft_jax.recipes import paper\n"
    "with paper._recipe_signals():\n"
    "    paper.run_stage('sleep', epath.Path(sys.argv[1]), 'sleeper', [])\n"
)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie (awaiting its reaper) counts as ended
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_the_stage_child_ends_with_the_recipe_and_its_log_is_on_disk(tmp_path, how):
    (tmp_path / "sleeper.py").write_text(SLEEPER)
    env = dict(os.environ, PYTHONPATH=f"{os.getcwd()}:{tmp_path}")
    recipe = subprocess.Popen(
        [sys.executable, "-c", RECIPE, str(tmp_path / "work")], stdout=subprocess.PIPE, text=True,
        env=env,
    )  # fmt: skip
    log_file = tmp_path / "work" / "sleep" / "log.txt"
    deadline = time.time() + 60
    while not (log_file.exists() and "child pid" in log_file.read_text()):
        assert time.time() < deadline and recipe.poll() is None, "the stage never started"
        time.sleep(0.1)
    child = int(log_file.read_text().split("child pid")[1].split()[0])  # line-buffered log
    recipe.send_signal(how)  # SIGKILL: no handler runs in the recipe
    recipe.wait(timeout=60)
    deadline = time.time() + 30
    while _alive(child) and time.time() < deadline:
        time.sleep(0.1)
    alive = _alive(child)
    if alive:
        os.kill(child, signal.SIGKILL)
    assert not alive, f"stage child {child} outlived the recipe ({how!r})"
