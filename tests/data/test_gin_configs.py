"""The gin/data files parse against the data layer's configurables and take effect."""

import pathlib

import gin
import pytest

from mathft_jax.data import math_tasks, pipeline, problems, prompts, vocabularies  # noqa: F401

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["synth.gin", "math.gin", "verifier.gin"])
def test_gin_file_parses(name):
    gin.clear_config()
    try:
        gin.parse_config_file(str(REPO_ROOT / "gin" / "data" / name))
        if name == "synth.gin":
            assert gin.query_parameter("%TASK_FEATURE_LENGTHS") == {"inputs": 48, "targets": 64}
            assert len(problems.synth_problems("validation")) == 500
        if name == "verifier.gin":
            assert prompts.verifier_words() == ("correct", "incorrect")
    finally:
        gin.clear_config()
