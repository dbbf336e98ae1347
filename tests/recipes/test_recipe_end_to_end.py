"""The whole recipe in miniature (slow: nine subprocess stages, ~3 CPU minutes): every stage runs
the real entry point, the table comes out, and a rerun skips what is done."""

import json

import pytest

from mathft_jax.recipes import paper

LENS = ["max_prompt_len = 48", "max_decode_len = 72"]


def _config(work_dir) -> paper.RecipeConfig:
    train = ["BATCH_SIZE = 8", "ValidationConfig.batches = 1", "TrainLoopConfig.log_every = 5"]
    return paper.RecipeConfig(
        work_dir=str(work_dir),
        common_gin_files=["data/synth.gin"],
        ssft_bindings=[*train, "TRAIN_STEPS = 20", "ValidationConfig.every = 10",
                       "CheckpointConfig.every = 10"],
        selection_problems=4,
        selection_bindings=[f"greedy_pass_at_1_hook.{b}" for b in LENS],
        train_sample_problems=16,
        train_num_samples=4,
        verifier_bindings=[*train, "TRAIN_STEPS = 6", "ValidationConfig.every = 3",
                           "CheckpointConfig.every = 3"],
        multitask_bindings=["TRAIN_STEPS = 6"],
        test_problems=6,
        test_num_samples=4,
        decode_bindings=[f"run_decode.{b}" for b in LENS],
        score_bindings=["run_score.max_len = 176"],
        ks=[1, 2],
    )  # fmt: skip


@pytest.mark.slow
def test_recipe_runs_every_stage_then_skips_them_on_rerun(tmp_path, capsys):
    table = paper.run_recipe(_config(tmp_path))
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert rows[0].startswith(
        "| model | N | Pass@1 | mean sample acc. | Maj1@N | Maj2@N | Pass@N | re-rank all"
    )
    assert [r.split(" | ")[0] for r in rows[1:]] == ["| ssft", "| multitask"]
    assert all(r.split(" | ")[1] == "4" for r in rows[1:])
    assert (tmp_path / "results.md").read_text() == table
    assert (tmp_path / "metrics_vs_n.png").stat().st_size > 0

    # Generators are chosen by greedy Pass@1 on validation, the verifier by accuracy; each later
    # stage starts from the earlier stage's chosen checkpoint.
    ssft_best = json.loads((tmp_path / "ssft/model/best_checkpoint.json").read_text())
    assert ssft_best["metric"] == "validation/greedy_pass_at_1"
    verifier_info = json.loads((tmp_path / "verifier/model/run_info.json").read_text())
    assert verifier_info["initial_checkpoint"] == ssft_best["path"]
    verifier_best = json.loads((tmp_path / "verifier/model/best_checkpoint.json").read_text())
    multitask_info = json.loads((tmp_path / "multitask/model/run_info.json").read_text())
    assert multitask_info["initial_checkpoint"] == verifier_best["path"]
    scored = [
        json.loads(x) for x in (tmp_path / "score_ssft/scored.jsonl").read_text().splitlines()
    ]
    records = [r for r in scored if "samples" in r]
    assert len(records) == 6
    assert all(len(r["verifier_scores"]) == len(r["samples"]) == 4 for r in records)
    assert all(0.0 <= s <= 1.0 for r in records for s in r["verifier_scores"])

    capsys.readouterr()
    assert paper.run_recipe(_config(tmp_path)) == table
    out = capsys.readouterr().out
    assert (
        out.count("done earlier, skipped") == 10
    )  # every stage: 3 train, 3 decode, 2 score, 2 eval
