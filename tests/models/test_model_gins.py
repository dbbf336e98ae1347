"""A model gin given after a stage gin gives exactly the model config it gives alone: the stage
gins include models/tiny.gin (so `--gin_file=gin/ssft.gin` alone runs the default), and a binding
of tiny.gin that a real model file does not repeat must not leak into it."""

import dataclasses
import pathlib

import gin
import pytest

from mathft_jax import gin_flags
from mathft_jax.models import ModelConfig

GIN = pathlib.Path(__file__).resolve().parents[2] / "gin"
STAGES = sorted(
    p.name for p in GIN.glob("*.gin") if 'include "models/' in p.read_text()
)  # ssft.gin, verifier_*.gin, contrastive.gin, joint_*.gin
MODELS = sorted(p.name for p in (GIN / "models").glob("*.gin") if p.name != "base.gin")


def _model_config(files: list[str]) -> ModelConfig:
    gin.clear_config()
    try:
        stage = [] if files[0].startswith("models/") else ["--gin.MODEL_DIR='unused'"]
        gin_flags.setup_gin([f"--gin_file={f}" for f in files] + stage)
        return ModelConfig()
    finally:
        gin.clear_config()


def test_there_are_stage_and_model_gins():
    assert {"ssft.gin", "verifier_xent.gin", "joint_margin.gin"} <= set(STAGES)
    assert {"tiny.gin", "llama3_1b.gin", "gemma2_2b.gin"} <= set(MODELS)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stage", STAGES)
def test_model_gin_after_a_stage_gin_gives_the_model_alone(stage, model):
    alone = _model_config([f"models/{model}"])
    after_stage = _model_config([stage, f"models/{model}"])
    diff = {
        f.name: (getattr(after_stage, f.name), getattr(alone, f.name))
        for f in dataclasses.fields(ModelConfig)
        if getattr(after_stage, f.name) != getattr(alone, f.name)
    }
    assert not diff, diff


def test_a_stage_gin_alone_runs_the_tiny_model():
    assert _model_config(["ssft.gin"]) == _model_config(["models/tiny.gin"])


def test_base_gin_binds_every_field_to_its_default_and_every_model_includes_it():
    assert _model_config(["models/base.gin"]) == ModelConfig()
    bound = {
        line.split("=")[0].strip().removeprefix("ModelConfig.")
        for line in (GIN / "models" / "base.gin").read_text().splitlines()
        if line.startswith("ModelConfig.")
    }
    assert bound == {f.name for f in dataclasses.fields(ModelConfig)}
    for model in MODELS:
        text = (GIN / "models" / model).read_text()
        assert text.index('include "models/base.gin"') < text.index("\nModelConfig."), model
