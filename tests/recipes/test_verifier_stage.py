"""The verifier stage gets the verifier's own feature lengths, not the SSFT ones of the data gin."""

import pathlib

import gin
import pytest

from mathft_jax import gin_flags
from mathft_jax.recipes import paper


def _cfg(**kwargs) -> paper.RecipeConfig:
    return paper.RecipeConfig(work_dir="unused", common_gin_files=["data/synth.gin"], **kwargs)


@pytest.mark.parametrize("stage_gin", ["verifier_xent.gin", "verifier_margin.gin"])
def test_verifier_stage_gets_verifier_feature_lengths(stage_gin, tmp_path):
    # The data gin file comes after the stage file and binds the SSFT lengths (48/64); the
    # recipe's binding must win, or the verifier sees only the tail of its prompt.
    pool = tmp_path / "pool.jsonl"
    cfg = _cfg(verifier_bindings=["TRAIN_STEPS = 7"])
    binds = paper.verifier_stage_bindings(cfg, pool)
    files = [stage_gin, cfg.model_gin, *cfg.common_gin_files]
    gin.clear_config()
    try:
        gin_flags.setup_gin(paper._gin_args(files, ["MODEL_DIR = 'unused'", *binds]))
        assert str(gin.query_parameter("%TASK_FEATURE_LENGTHS")) == "%VERIFIER_FEATURE_LENGTHS"
        assert gin.query_parameter("%VERIFIER_FEATURE_LENGTHS")["inputs"] >= 160
        assert gin.query_parameter("%TRAIN_STEPS") == 7  # the config's own bindings come last
        assert gin.query_parameter("pool_verifier_task.candidates_path") == str(pool)
    finally:
        gin.clear_config()


def test_verifier_feature_lengths_can_be_left_to_gin_files():
    binds = paper.verifier_stage_bindings(_cfg(verifier_feature_lengths=None), pathlib.Path("p"))
    assert not any(b.startswith("TASK_FEATURE_LENGTHS") for b in binds)


def test_verifier_is_chosen_by_within_problem_auc_on_the_pools_validation_problems(tmp_path):
    pool = tmp_path / "pool.jsonl"
    cfg = _cfg(verifier_selection_bindings=["verifier_ranking_hook.max_len = 256"])
    binds = paper.verifier_stage_bindings(cfg, pool)
    gin.clear_config()
    try:
        files = ["verifier_xent.gin", cfg.model_gin, *cfg.common_gin_files]
        gin_flags.setup_gin(paper._gin_args(files, ["MODEL_DIR = 'unused'", *binds]))
        assert (
            gin.query_parameter("ValidationConfig.best_metric") == "validation/within_problem_auc"
        )
        assert gin.query_parameter("ValidationConfig.best_mode") == "max"
        assert gin.query_parameter("verifier_ranking_hook.candidates_path") == str(pool)
        assert gin.query_parameter("verifier_ranking_hook.max_len") == 256
    finally:
        gin.clear_config()
    plain = paper.verifier_stage_bindings(_cfg(verifier_selection="gin"), pool)
    assert not any("verifier_ranking_hook" in b for b in plain)
    contrastive = paper.verifier_stage_bindings(_cfg(verifier_task_kind="contrastive_pairs"), pool)
    assert not any("verifier_ranking_hook" in b or "FEATURE_LENGTHS" in b for b in contrastive)
    with pytest.raises(ValueError, match="verifier_selection"):
        _cfg(verifier_selection="accuracy")
