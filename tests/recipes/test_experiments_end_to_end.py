"""Each experiment config end to end on the synthetic task with the tiny model, a few steps each
(slow: every stage is a real subprocess job). The three share one WORK_DIR, as a user running them
one after another would, so SSFT, the sampled pool and the Eq. 9 verifier run once.

A model trained for four steps solves nothing, and pair tasks (Eq. 8, 10-13) need problems with a
correct and an incorrect sample: the first run stops after `sample_train` (stop_after), the test
puts each problem's reference solution among its samples, and the run continues from there."""

import json
import re

import gin
import pytest

from mathft_jax import gin_flags
from mathft_jax.data import problems
from mathft_jax.recipes import experiments, paper

LENS = ["max_prompt_len = 48", "max_decode_len = 72"]
TRAIN = ["BATCH_SIZE = 8", "ValidationConfig.batches = 1", "TrainLoopConfig.log_every = 2",
         "TRAIN_STEPS = 4", "ValidationConfig.every = 2", "CheckpointConfig.every = 2"]  # fmt: skip
TINY = [
    f"RecipeConfig.ssft_bindings = {TRAIN}",
    f"RecipeConfig.verifier_bindings = {TRAIN}",
    "RecipeConfig.multitask_bindings = ['TRAIN_STEPS = 2']",
    "RecipeConfig.selection_problems = 2",
    f"RecipeConfig.selection_bindings = {[f'greedy_pass_at_1_hook.{b}' for b in LENS]}",
    "RecipeConfig.train_sample_problems = 32",
    "RecipeConfig.train_num_samples = 2",
    "RecipeConfig.test_problems = 4",
    "RecipeConfig.test_num_samples = 2",
]

ROWS = {
    "sources": ["| SSFT: synthetic reference solutions"],
    "scr": ["| Maj1@N"]
    + [f"| {m}" for _ in range(2) for m in ("re-rank all", "SCR-1", "SCR-2", "SCR-4", "SCR-8")],
    "multitask": [
        "| SSFT alone",
        "| sequential multi-task",
        "| contrastive (Eq. 10-11)",
        "| joint margin (Eq. 12)",
        "| joint cross-entropy (Eq. 13)",
    ],  # fmt: skip
}


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("experiments")


def _run(name, work, *bindings):
    gin.clear_config()
    gin_flags.setup_gin(
        [f"--gin_file=experiments/{name}.gin", f"--gin.WORK_DIR='{work}'",
         *[f"--gin_bindings={b}" for b in [*TINY, *bindings]]], finalize=True
    )  # fmt: skip
    try:
        return experiments.run_experiment(paper.RecipeConfig(), experiments.ExperimentConfig())
    finally:
        gin.clear_config()


def _put_references_in_the_pool(work) -> None:
    """Sample 0 of every pooled training problem becomes its reference solution."""
    (done,) = [
        d for d in work.glob("stages/decode-*/DONE.json")
        if "--gin_bindings=run_decode.split='train'" in json.loads(d.read_text())["command"]
    ]  # fmt: skip
    pool = done.parent / "candidates.jsonl"
    reference = {p.unique_id: p.solution for p in problems.load_problems("synth", "train")}
    rows = [json.loads(line) for line in pool.read_text().splitlines()]
    for row in rows:
        row["samples"][0] = reference[row["unique_id"]]
        row.pop("sample_answers", None)  # extracted again from the texts
    pool.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["scr", "multitask", "sources"])
def test_experiment_runs_end_to_end_and_tables_every_row(name, work, capsys):
    if name == "scr":
        assert _run(name, work, "ExperimentConfig.stop_after = 'sample_train'") is None
        assert not (work / name / "results.md").exists()
        _put_references_in_the_pool(work)
    table = _run(name, work)
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]
    assert [r.split(" | ")[0] for r in rows] == ROWS[name]
    # Every cell that is a metric holds a value in [0, 1] with its CI.
    for row in rows:
        for mean, low, high in re.findall(r"(\d\.\d{3}) \[(\d\.\d\d), (\d\.\d\d)\]", row):
            assert 0 <= float(low) <= float(mean) + 0.005 and float(mean) <= float(high) + 0.005
    assert (work / name / "results.md").read_text() == table
    assert (work / name / "metrics_vs_n.png").stat().st_size > 0
    out = capsys.readouterr().out
    if name != "scr":  # SSFT (and its test decode) came from the scr run
        assert re.search(r"\[recipe\] ssft-[0-9a-f]{10}: done earlier, skipped", out)
