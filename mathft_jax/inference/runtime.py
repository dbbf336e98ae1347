"""What the decode and score entry points share: gin flag parsing, the vocabulary, the mesh, and
loading a checkpoint into `ModelFns` + params. Thin glue over the data, models and training modules.
"""

import ast
import os
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

import gin
from mathft_jax.inference import decoding


def gin_literal(value: str) -> str:
    """Quotes a `--gin.X=value` unless it already is a gin literal or reference (5, 'a', @f, %X)."""
    if value.startswith(("@", "%")):
        return value
    try:
        ast.literal_eval(value)
        return value
    except (ValueError, SyntaxError):
        return repr(value)


def parse_gin_flags(argv: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """T5X-style flags -> (gin files, bindings, search paths).

    Accepts `--gin_file=F` (repeatable), `--gin_bindings=B`, `--gin_search_paths=a,b` and
    `--gin.NAME=VALUE` (shorthand for the binding `NAME = VALUE`; bare strings get quoted).
    """
    files, bindings, paths = [], [], []
    for arg in argv:
        name, _, value = arg.partition("=")
        if name == "--gin_file":
            files.append(value)
        elif name == "--gin_bindings":
            bindings.append(value)
        elif name == "--gin_search_paths":
            paths.extend(p for p in value.split(",") if p)
        elif name.startswith("--gin."):
            bindings.append(f"{name[len('--gin.') :]} = {gin_literal(value)}")
        else:
            raise ValueError(
                f"unknown flag {arg!r}; expected --gin_file=, --gin_bindings=, --gin_search_paths= "
                "or --gin.NAME=VALUE"
            )
    if not files:
        raise ValueError("no --gin_file given (e.g. --gin_file=gin/decode.gin)")
    return files, bindings, paths


def setup_gin(argv: Sequence[str]) -> None:
    """Parses gin flags (argv without the program name) and applies them."""
    files, bindings, paths = parse_gin_flags(argv)
    for path in [*paths, "."]:
        gin.add_config_file_search_path(path)
    gin.parse_config_files_and_bindings(files, bindings, finalize_config=False)


@gin.configurable
def vocabulary(kind: str = "byte", path: str | None = None) -> Any:
    """A seqio vocabulary: "byte" (tiny models) or "sentencepiece" at `path` (gin)."""
    import seqio  # noqa: PLC0415  (imports TensorFlow: only when a run needs it)

    if kind == "byte":
        return seqio.ByteVocabulary()
    if kind == "sentencepiece":
        if not path or not os.path.exists(path):
            raise ValueError(f"vocabulary.path={path!r} (gin) is not a sentencepiece model file")
        return seqio.SentencePieceVocabulary(path)
    raise ValueError(f'vocabulary.kind must be "byte" or "sentencepiece", got {kind!r} (gin)')


@gin.configurable
def data_mesh(num_devices: int | None = None) -> jax.sharding.Mesh:
    """A 1-D mesh named "data" over the first `num_devices` devices (all by default).

    Decoding and scoring shard only the batch; params are replicated over this mesh.
    """
    devices = jax.devices()
    if num_devices is not None:
        if num_devices > len(devices):
            raise ValueError(f"data_mesh.num_devices={num_devices} > {len(devices)} devices (gin)")
        devices = devices[:num_devices]
    return jax.sharding.Mesh(np.asarray(devices), ("data",))


@gin.configurable
def load_model(
    checkpoint_path: str, model_config: Any = None, cache_dtype: str = "float32"
) -> tuple[decoding.ModelFns, Any]:
    """(ModelFns, params) for a checkpoint (orbax step dir, MODEL_DIR best/latest or HF folder).

    `model_config` defaults to the gin-bound `ModelConfig()` (include a gin/models/*.gin file).
    """
    from mathft_jax.models.config import ModelConfig  # noqa: PLC0415
    from mathft_jax.training.checkpoints import load_params  # noqa: PLC0415

    if not checkpoint_path:
        raise ValueError("CHECKPOINT_PATH is empty: pass --gin.CHECKPOINT_PATH=<checkpoint dir>")
    config = model_config if model_config is not None else ModelConfig()
    params = load_params(checkpoint_path)
    return decoding.decoder_fns(config, np.dtype(cache_dtype)), params
