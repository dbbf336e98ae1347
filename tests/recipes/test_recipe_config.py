"""The recipe's gin files and the bindings it hands every stage (no training here)."""

import gin
import pytest

from mathft_jax import gin_flags
from mathft_jax.recipes import paper


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
    assert cfg.source == "synth" and cfg.base_checkpoint is None and cfg.tokenizer is None
    assert cfg.job_bindings() == list(cfg.common_bindings)
    assert "greedy_pass_at_1_hook.source = 'synth'" in cfg.generator_bindings()


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


def test_paper_table_has_a_row_per_generator_at_the_full_pool_size():
    metric = {"mean": 0.5}
    row = {"maj1": metric, "maj2": metric, "pass@n": {"mean": 0.75}, "rerank_all": metric,
           "scr1": metric, "scr2": {"mean": 0.625}}  # fmt: skip
    result = {"ns": [1, 4], "by_n": {"4": row}, "pass1": {"mean": 0.25, "kind": "greedy"}}
    table = paper.paper_table({"ssft": result, "multitask": result}, ks=[1, 2])
    lines = table.splitlines()
    assert lines[0] == (
        "| model | N | Pass@1 | Maj1@N | Maj2@N | Pass@N | re-rank all | SCR-1 | SCR-2 |"
    )
    assert lines[2] == "| ssft | 4 | 0.250 | 0.500 | 0.500 | 0.750 | 0.500 | 0.500 | 0.625 |"
    assert lines[3].startswith("| multitask | 4 |") and "Pass@1 is greedy" in table
