"""gin file lookup of every entry point (`mathft_jax.gin_flags.setup_gin`)."""

import subprocess
import sys

import gin
import pytest

from mathft_jax import gin_flags


def test_repo_gin_files_load_from_any_directory_even_one_with_models_and_data_folders(
    tmp_path, monkeypatch
):
    """`include "models/tiny.gin"` must not be read as a resource of a `models` package: a
    `models/` or `data/` folder in the working directory used to crash gin."""
    (tmp_path / "models").mkdir()
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    gin.clear_config()
    try:
        gin_flags.setup_gin(["--gin_file=ssft.gin", "--gin_file=data/synth.gin"])
        assert gin.query_parameter("ModelConfig.embed_dim") == 128  # from models/tiny.gin
    finally:
        gin.clear_config()


def test_a_file_in_the_working_directory_wins_over_the_repos(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    repo_tiny = gin_flags.GIN_DIR / "models" / "tiny.gin"
    (tmp_path / "models" / "tiny.gin").write_text(
        f"include '{repo_tiny}'\nModelConfig.embed_dim = 64\n"
    )
    monkeypatch.chdir(tmp_path)
    gin.clear_config()
    try:
        gin_flags.setup_gin(["--gin_file=models/tiny.gin"])
        assert gin.query_parameter("ModelConfig.embed_dim") == 64
    finally:
        gin.clear_config()


def _setup(*flags):
    gin.clear_config()
    try:
        gin_flags.setup_gin(["--gin_file=ssft.gin", "--gin.MODEL_DIR=/tmp/x", *flags])
        return gin.query_parameter("%TRAIN_STEPS")
    finally:
        gin.clear_config()


def test_a_misspelled_macro_stops_naming_it_and_the_nearest_known_macro():
    with pytest.raises(gin_flags.GinBindingError, match="TRAIN_STEPZ.*did you mean TRAIN_STEPS"):
        _setup("--gin.TRAIN_STEPZ=5")


@pytest.mark.parametrize("value", ["abc", "5.5", "True"])
def test_a_macro_value_of_another_kind_than_the_gin_files_stops_naming_the_binding(value):
    with pytest.raises(gin_flags.GinBindingError, match=r"TRAIN_STEPS is int in the gin files"):
        _setup(f"--gin.TRAIN_STEPS={value}")


def test_macro_bindings_of_the_right_kind_apply():
    assert _setup("--gin.TRAIN_STEPS=7", "--gin.LEARNING_RATE=1") == 7


def test_the_train_entry_point_prints_one_line_for_a_bad_macro(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mathft_jax.train",
            "--gin_file=gin/ssft.gin",
            f"--gin.MODEL_DIR={tmp_path}",
            "--gin.TRAIN_STEPZ=5",
        ],
        cwd=gin_flags.GIN_DIR.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("error: gin binding 'TRAIN_STEPZ = 5'")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "checkpoints").exists()
