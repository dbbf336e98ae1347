"""The recipe's gin files and the bindings it hands every stage (no training here)."""

import json

import gin
import pytest

from mathft_jax import gin_flags
from mathft_jax.recipes import paper
from tests.conftest import REPO_ROOT


@pytest.fixture(autouse=True)
def _clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


def test_math_recipe_needs_a_base_checkpoint_and_tokenizer_and_passes_them_on():
    with pytest.raises(ValueError, match="BASE_CHECKPOINT"):
        gin_flags.setup_gin(["--gin_file=recipe_math.gin"], finalize=True)  # as recipe.main does
    gin.clear_config()
    gin_flags.setup_gin(
        ["--gin_file=recipe_math.gin", "--gin.BASE_CHECKPOINT=/ckpt/llama",
         "--gin.TOKENIZER=/ckpt/llama/tokenizer.json"], finalize=True
    )  # fmt: skip
    cfg = paper.RecipeConfig()
    assert cfg.source == "math" and cfg.model_gin == "models/llama3_1b.gin"
    assert cfg.base_checkpoint == "/ckpt/llama" and cfg.test_num_samples == 64
    assert cfg.job_bindings()[:2] == [
        "get_vocabulary.kind = 'hf'",
        "get_vocabulary.path = '/ckpt/llama/tokenizer.json'",
    ]
    binds = cfg.generator_bindings()
    assert "ValidationConfig.hooks = [@greedy_pass_at_1_hook()]" in binds
    assert "ValidationConfig.best_metric = 'validation/greedy_pass_at_1'" in binds
    assert "greedy_pass_at_1_hook.source = 'math'" in binds
    assert binds[-1] == "greedy_pass_at_1_hook.max_decode_len = 1024"  # selection_bindings last


def test_smoke_recipe_is_synthetic_and_selects_generators_by_greedy_pass_at_1():
    gin_flags.setup_gin(["--gin_file=recipe_smoke.gin"])
    cfg = paper.RecipeConfig()
    assert cfg.source == "chain" and cfg.tokenizer is None
    assert cfg.base_checkpoint == "assets/tiny_mod10_base"  # shipped in the repo
    assert (REPO_ROOT / cfg.base_checkpoint / "model.safetensors").exists()
    assert cfg.common_gin_files == ["data/mod10verdict.gin"]
    assert cfg.test_problems >= 300 and cfg.test_num_samples == 16  # issue 12: CIs of ~+-0.05
    assert cfg.job_bindings() == list(cfg.common_bindings)
    assert "greedy_pass_at_1_hook.source = 'chain'" in cfg.generator_bindings()


def test_bad_recipe_settings_name_the_field():
    with pytest.raises(ValueError, match="generator_selection"):
        paper.RecipeConfig(work_dir="w", generator_selection="pass@1")
    with pytest.raises(ValueError, match="tokenizer"):
        paper.RecipeConfig(work_dir="w", tokenizer="/ckpt/vocab.txt")
    sp = paper.RecipeConfig(work_dir="w", tokenizer="/ckpt/tokenizer.model")
    assert sp.job_bindings()[0] == "get_vocabulary.kind = 'sentencepiece'"
    loss = paper.RecipeConfig(work_dir="w", generator_selection="loss").generator_bindings()
    assert loss == [
        "ValidationConfig.best_metric = 'validation/loss'",
        "ValidationConfig.best_mode = 'min'",
    ]


def test_paper_table_has_a_row_per_generator_at_the_full_pool_size_with_cis_and_the_difference():
    def stat(mean, half=0.1):
        return {"mean": mean, "ci95_low": mean - half, "ci95_high": mean + half}

    row = {"maj1": stat(0.5), "maj2": stat(0.5), "pass@n": stat(0.75), "rerank_all": stat(0.5),
           "scr1": stat(0.5), "scr2": stat(0.625)}  # fmt: skip
    per_problem = [
        {"unique_id": "p1", "greedy_correct": False, "mean_acc": 0.25, "maj1": 0.0, "scr2": 0.0},
        {"unique_id": "p2", "greedy_correct": True, "mean_acc": 0.5, "maj1": 1.0, "scr2": 1.0},
    ]
    ssft = {"ns": [1, 4], "by_n": {"4": row}, "pass1": {**stat(0.25), "kind": "greedy"},
            "mean_sample_accuracy": stat(0.375), "verifier_within_auc": stat(0.75),
            "num_problems": 2, "per_problem": per_problem}  # fmt: skip
    better = [{**p, "maj1": 1.0, "greedy_correct": True} for p in per_problem]
    multitask = {**ssft, "per_problem": better, "verifier_within_auc": {"mean": float("nan")}}
    table = paper.paper_table({"ssft": ssft, "multitask": multitask}, ks=[1, 2])
    lines = table.splitlines()
    assert lines[0] == (
        "| model | N | Pass@1 | mean sample acc. | Maj1@N | Maj2@N | Pass@N | re-rank all | SCR-1 "
        "| SCR-2 | verifier AUC within |"
    )
    assert lines[2] == (
        "| ssft | 4 | 0.250 [0.15, 0.35] | 0.375 [0.27, 0.48] | 0.500 [0.40, 0.60] "
        "| 0.500 [0.40, 0.60] | 0.750 [0.65, 0.85] | 0.500 [0.40, 0.60] | 0.500 [0.40, 0.60] "
        "| 0.625 [0.52, 0.73] | 0.750 [0.65, 0.85] |"
    )
    assert lines[3].startswith("| multitask | 4 |") and lines[3].endswith("| - |")
    assert "Pass@1 is greedy" in table and "2 problems" in table
    # multitask - ssft, paired: Pass@1 and Maj1 each gain one problem of two (+0.5, CI +-Z95*0.5).
    diff = lines[-1]
    assert diff.startswith("multitask - ssft (paired over problems, N = 4, 95% CI): ")
    assert "Pass@1 +0.500 [-0.48, +1.48]" in diff and "Maj1@N +0.500 [-0.48, +1.48]" in diff
    assert "mean sample acc. +0.000 [+0.00, +0.00]" in diff and "SCR-2 +0.000" in diff


def test_the_verifiers_validation_figure_goes_under_the_table(tmp_path):
    from etils import epath

    stage = epath.Path(tmp_path) / "verifier"
    assert paper.chosen_checkpoint_line("verifier", stage) == ""  # nothing recorded: no line
    (stage / "model").mkdir(parents=True)
    record = {"step": 200, "metric": "validation/within_problem_auc", "value": 0.7123, "path": "x"}
    (stage / "model" / "best_checkpoint.json").write_text(json.dumps(record))
    assert paper.chosen_checkpoint_line("verifier", stage) == (
        "verifier checkpoint chosen on validation: validation/within_problem_auc = 0.712 at step 200\n"
    )
