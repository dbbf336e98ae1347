"""Paths that may be URLs: normalisation, and the small files the jobs read and write.

MODEL_DIR, CHECKPOINT_PATH, OUTPUT, ... may be local paths or URLs such as `gs://bucket/runs/ssft`
(a Cloud TPU pod writes to a bucket). `os.path.abspath` would turn a URL into `/cwd/gs:/bucket/...`,
so `normalize` keeps anything with `://` as it is; files go through `etils.epath` (orbax's own path
layer), which opens local paths with the built-in `open` and URLs with tf.io.gfile or fsspec.
Local paths behave exactly as before.

    >>> normalize("gs://b/runs/ssft")
    'gs://b/runs/ssft'
    >>> normalize("runs/ssft") == os.path.join(os.getcwd(), "runs", "ssft")
    True

No JAX import: the evaluation side (worker processes) may use it too.
"""

import json
import os
from typing import IO, Any

from etils import epath

PathLike = str | os.PathLike[str]


def is_url(path: PathLike) -> bool:
    """True for `scheme://...` (gs://, s3://, ...), False for local paths."""
    return "://" in os.fspath(path)


def normalize(path: PathLike) -> str:
    """An absolute local path, or the URL unchanged."""
    path = os.fspath(path)
    return path if is_url(path) else os.path.abspath(path)


def as_path(path: PathLike) -> epath.Path:
    """An `etils.epath.Path` for a local path or a URL (pathlib's API, `/` joins)."""
    return epath.Path(path)


def exists(path: PathLike) -> bool:
    return as_path(path).exists()


def isdir(path: PathLike) -> bool:
    return as_path(path).is_dir()


def makedirs(path: PathLike) -> None:
    """`mkdir -p` (on a bucket, where folders are only name prefixes, next to a no-op)."""
    as_path(path).mkdir(parents=True, exist_ok=True)


def open_file(path: PathLike, mode: str = "r") -> IO[Any]:
    """Opens a local file or a URL; text modes are UTF-8. Modes: r, w, a (+ b)."""
    if "b" in mode:
        return as_path(path).open(mode)
    return as_path(path).open(mode, encoding="utf-8")


def read_json(path: PathLike) -> Any:
    """The JSON value in `path`, or None when there is no such file."""
    p = as_path(path)
    if not p.exists():
        return None
    return json.loads(p.read_text())


def write_json(path: PathLike, obj: Any, indent: int | None = 1) -> None:
    """Writes `obj` to `tmp` then renames it over `path`, so readers never see half a file."""
    p = as_path(path)
    tmp = as_path(f"{os.fspath(path)}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent)
    tmp.replace(p)
