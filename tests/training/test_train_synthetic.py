"""End to end on the synthetic task with the repo's gin files (slow): SSFT cuts validation loss,
then a verifier started from the SSFT checkpoint beats chance on validation accuracy."""

import math
import pathlib
import sys

import gin
import pytest

from mathft_jax import train as train_main
from mathft_jax.training import metrics_logging, trainer

STEPS = 150
TESTS_DIR = str(pathlib.Path(__file__).resolve().parents[1])


def _run(gin_file, model_dir, *bindings):
    gin.clear_config()
    train_main.parse_gin(
        [f"--gin_file={gin_file}", f"--gin.MODEL_DIR={model_dir}", f"--gin.TRAIN_STEPS={STEPS}",
         "--gin.train.eval_every=75", "--gin.train.eval_batches=4", "--gin.train.log_every=25",
         "--gin.LEARNING_RATE=3e-3", *bindings]
    )  # fmt: skip
    try:
        return trainer.train()
    finally:
        gin.clear_config()


def _evals(model_dir, key):
    return [r[key] for r in metrics_logging.read_log(str(model_dir)) if key in r]


@pytest.mark.slow
def test_ssft_then_verifier_learn(tmp_path, monkeypatch):
    # gin resolves `include "models/tiny.gin"` as a resource of an importable package `models`
    # first; pytest puts tests/ on sys.path, where tests/models/ is one. Hide it.
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != TESTS_DIR])
    monkeypatch.delitem(sys.modules, "models", raising=False)
    ssft = tmp_path / "ssft"
    _run("ssft.gin", ssft)
    losses = _evals(ssft, "validation/loss")
    # Random init predicts ~uniformly over the 384-id byte vocabulary: ln 384 = 5.95 nats/token.
    assert losses[-1] < 0.35 * math.log(384), losses

    verifier = tmp_path / "verifier"
    _run("verifier_xent.gin", verifier, f"--gin.INITIAL_CHECKPOINT_PATH={ssft}")
    acc = _evals(verifier, "validation/accuracy")
    assert acc[-1] > 0.6, acc  # validation labels are balanced (one right, one wrong per problem)
