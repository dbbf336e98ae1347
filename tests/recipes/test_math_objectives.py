"""Under recipe_math's settings (gin/recipe_math.gin, the stage gins, data/math.gin) every verifier
and ablation task kind builds batches on MATH data and trains: byte vocabulary, tiny model, a small
candidates pool of MATH training problems with their reference solution (correct) and a copy with a
wrong boxed answer (incorrect). Nothing may be dropped as overlong: the pool's problems are short
enough for every group's lengths, so a drop means a group got a length meant for another one (the
`gen` group once inherited the verifier's 8-token target limit and lost every pair).
"""

import logging
import re

import gin
import pytest

from mathft_jax import candidates, gin_flags
from mathft_jax.data import pipeline, problems
from mathft_jax.recipes import paper
from mathft_jax.training import trainer

# (stage gin, pool task kind) of every verifier and ablation objective.
KINDS = {
    "verifier_xent": ("verifier_xent.gin", "verifier_xent"),
    "verifier_margin": ("verifier_margin.gin", "verifier_pairs"),
    "contrastive": ("contrastive.gin", "contrastive_pairs"),
    "joint_xent": ("joint_xent.gin", "verifier_pairs"),
    "joint_margin": ("joint_margin.gin", "verifier_pairs"),
}


def _recipe_math() -> paper.RecipeConfig:
    gin.clear_config()
    try:
        gin_flags.setup_gin(
            ["--gin_file=recipe_math.gin", "--gin.BASE_CHECKPOINT='b'", "--gin.TOKENIZER='t.json'"]
        )
        return paper.RecipeConfig()
    finally:
        gin.clear_config()


@pytest.fixture(scope="module")
def math_pool(tmp_path_factory):
    """12 short MATH training problems: the reference solution and a wrong-answer copy each."""
    short = [p for p in problems.load_problems("math", "train") if len(p.problem) < 150]
    short = [p for p in short if len(p.solution) < 400 and "\\boxed" in p.solution][:12]
    assert len(short) == 12
    rows = []
    for p in short:
        wrong = re.sub(r"\\boxed\{.*\}", r"\\boxed{-98765}", p.solution, count=1)
        assert wrong != p.solution
        rows.append(
            candidates.Candidates(
                p.unique_id, p.problem, p.answer, (p.solution, wrong),
                meta={"source": "math", "split": "train"},
            )
        )  # fmt: skip
    path = tmp_path_factory.mktemp("pool") / "pool.jsonl"
    candidates.write_candidates(path, rows)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_objective_trains_on_math_under_recipe_math(kind, math_pool, tmp_path, caplog):
    stage_gin, task_kind = KINDS[kind]
    cfg = _recipe_math()
    cfg = paper.RecipeConfig(**{**cfg.__dict__, "verifier_task_kind": task_kind})
    binds = paper.verifier_stage_bindings(cfg, math_pool)
    files = [stage_gin, "models/tiny.gin", *cfg.common_gin_files]
    gin.clear_config()
    pipeline.clear_cache()
    try:
        gin_flags.setup_gin(
            paper._gin_args(files, [f"MODEL_DIR = {str(tmp_path)!r}", *binds])
            + ["--gin.TRAIN_STEPS=2", "--gin.BATCH_SIZE=8", "--gin.ValidationConfig.every=0",
               "--gin.CheckpointConfig.every=0", "--gin.TrainLoopConfig.log_every=1",
               "--gin.WARMUP_STEPS=1"]
        )  # fmt: skip
        assert gin.query_parameter("Objective.kind") == kind
        assert gin.query_parameter("batch_iterator.overlong") == "drop"  # recipe_math's rule
        with caplog.at_level(logging.WARNING):
            result = trainer.train()
    finally:
        gin.clear_config()
    assert result["step"] == 2
    dropped = [r.getMessage() for r in caplog.records if "exceed feature lengths" in r.getMessage()]
    assert not dropped, dropped
