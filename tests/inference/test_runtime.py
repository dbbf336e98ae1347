"""Gin flag parsing shared by the decode and score entry points."""

import pytest

from mathft_jax import gin_flags


def test_gin_flags_become_bindings_with_bare_strings_quoted():
    files, bindings, paths = gin_flags.parse_gin_flags(
        [
            "--gin_file=gin/decode.gin",
            "--gin_file=gin/models/tiny.gin",
            "--gin.CHECKPOINT_PATH=/tmp/run/best",
            "--gin.NUM_SAMPLES=4",
            "--gin.OUTPUT='o.jsonl'",
            "--gin.SamplingConfig.top_k=None",
            "--gin.X=@f()",
            "--gin_bindings=run_decode.seed = 3",
            "--gin_search_paths=a,b",
        ]
    )
    assert files == ["gin/decode.gin", "gin/models/tiny.gin"]
    assert bindings == [
        "CHECKPOINT_PATH = '/tmp/run/best'",
        "NUM_SAMPLES = 4",
        "OUTPUT = 'o.jsonl'",
        "SamplingConfig.top_k = None",
        "X = @f()",
        "run_decode.seed = 3",
    ]
    assert paths == ["a", "b"]


def test_bad_flags_name_the_flag():
    with pytest.raises(ValueError, match="--gin_fle"):
        gin_flags.parse_gin_flags(["--gin_fle=x.gin"])
    with pytest.raises(ValueError, match="no --gin_file"):
        gin_flags.parse_gin_flags(["--gin.X=1"])
