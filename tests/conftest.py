"""Shared test fixtures: where `../shared` lives, and JAX on 8 fake CPU devices."""

import os
import pathlib

# Sharding tests need several devices; on CPU, XLA fakes them. Must precede any `import jax`.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# libtpu (test extra, for the compile-only TPU planner) must not claim this host as a TPU.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

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


@pytest.fixture
def bucket(tmp_path, monkeypatch):
    """A fake gs:// bucket: gs://bucket/KEY is the local file tmp_path/gcs/bucket/KEY while the test
    runs (cwd is tmp_path, so a URL mistaken for a relative path lands there, not in the checkout).
    epath's gs:// backend is swapped for local files, so code takes exactly its URL path."""
    from etils.epath import gpath, testing

    root = tmp_path / "gcs"
    root.mkdir()
    monkeypatch.chdir(tmp_path)

    def local(path):
        path = os.fspath(path)
        return str(root / path[len("gs://") :]) if path.startswith("gs://") else path

    def one(fn, path, *args, **kwargs):
        return fn(local(path), *args, **kwargs)

    def two(fn, path, dst, *args, **kwargs):
        return fn(local(path), local(dst), *args, **kwargs)

    def open_(fn, path, mode):
        if any(m in mode for m in "wa"):  # objects need no folders: a key's prefix always works
            os.makedirs(os.path.dirname(local(path)), exist_ok=True)
        return fn(local(path), mode)

    # With TensorFlow installed epath would send gs:// to tf.io.gfile whatever the backend table.
    monkeypatch.setattr(gpath, "_is_tf_installed", lambda: False)
    names = ["exists", "glob", "isdir", "listdir", "makedirs", "mkdir", "remove", "rmtree"]
    fns = dict.fromkeys([*names, "stat", "walk"], one)
    with testing.mock_epath(**fns, open=open_, copy=two, rename=two, replace=two):
        yield root


@pytest.fixture(scope="session")
def smollm2_gguf():
    """SmolLM2-135M-Instruct Q4_1 GGUF (tests/real_artifacts.py: fetched once, cached)."""
    import real_artifacts  # lazy: tests/ is on sys.path

    return real_artifacts.smollm2_gguf()


@pytest.fixture(scope="session")
def smollm2_hf_dir():
    """That GGUF converted to an HF folder with its tokenizer files (cached)."""
    import real_artifacts  # lazy: tests/ is on sys.path

    return real_artifacts.smollm2_converted()


@pytest.fixture(scope="session")
def real_tokenizer_paths(smollm2_hf_dir):
    """{name: tokenizer.json} for Llama 3, Qwen3, Gemma 3 (npm) and SmolLM2 (from its GGUF)."""
    import real_artifacts  # lazy: tests/ is on sys.path

    paths = {name: real_artifacts.npm_tokenizer(name) for name in real_artifacts.NPM_TOKENIZERS}
    paths["smollm2"] = smollm2_hf_dir / "tokenizer.json"
    return paths
