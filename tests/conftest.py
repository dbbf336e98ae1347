"""Shared test fixtures: where `../shared` lives, and JAX on 8 fake CPU devices."""

import os
import pathlib

# Sharding tests need several devices; on CPU, XLA fakes them. Must precede any `import jax`.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def shared_dir() -> pathlib.Path:
    """The workplace's shared data folder: $MATHFT_SHARED_DIR, else ../shared beside the repo."""
    return pathlib.Path(os.environ.get("MATHFT_SHARED_DIR", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def math_data_dir() -> pathlib.Path:
    """The MATH dataset folder; tests that need it skip (loudly) where it is absent."""
    path = pathlib.Path(os.environ.get("MATHFT_DATA_DIR", shared_dir() / "data" / "math"))
    if not (path / "train.jsonl").exists():
        pytest.skip(f"MATH data not found at {path} (set MATHFT_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def pools_dir() -> pathlib.Path:
    """The real candidate pools folder; tests that need it skip where it is absent."""
    path = pathlib.Path(os.environ.get("MATHFT_POOLS_DIR", shared_dir() / "data" / "pools"))
    if not path.is_dir():
        pytest.skip(f"candidate pools not found at {path} (set MATHFT_POOLS_DIR)")
    return path
