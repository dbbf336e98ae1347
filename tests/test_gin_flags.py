"""gin file lookup of every entry point (`mathft_jax.gin_flags.setup_gin`)."""

import gin

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
