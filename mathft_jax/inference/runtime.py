"""What the decode and score entry points share: gin flag parsing, the vocabulary, the mesh, and
loading a checkpoint into `ModelFns` + params. Thin glue over the data, models and training modules.
"""

import ast
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


def vocabulary() -> Any:
    """The run's vocabulary: `mathft_jax.data.vocabularies.get_vocabulary` (gin: get_vocabulary.kind)."""
    from mathft_jax.data.vocabularies import get_vocabulary  # noqa: PLC0415  (imports TensorFlow)

    return get_vocabulary()


def mesh() -> jax.sharding.Mesh:
    """The trainer's mesh (`partitioning.make_mesh`, gin/partitioning/*.gin; all devices on data)."""
    from mathft_jax.training import partitioning  # noqa: PLC0415

    return partitioning.make_mesh()


@gin.configurable
def load_model(
    checkpoint_path: str,
    model_config: Any = None,
    cache_dtype: str = "float32",
    mesh: jax.sharding.Mesh | None = None,
) -> tuple[decoding.ModelFns, Any]:
    """(ModelFns, params) for a checkpoint (orbax step dir, MODEL_DIR best/latest or HF folder).

    `model_config` defaults to the gin-bound `ModelConfig()` (include a gin/models/*.gin file).
    With a `mesh`, params are placed by the trainer's logical-axis rules (`logical_axis_rules`),
    so a model sharded for training (FSDP, tensor) decodes sharded the same way.
    """
    from mathft_jax.models import transformer  # noqa: PLC0415
    from mathft_jax.models.config import ModelConfig  # noqa: PLC0415
    from mathft_jax.training import checkpoints, partitioning  # noqa: PLC0415

    if not checkpoint_path:
        raise ValueError("CHECKPOINT_PATH is empty: pass --gin.CHECKPOINT_PATH=<checkpoint dir>")
    config = model_config if model_config is not None else ModelConfig()
    shardings = None
    if mesh is not None:
        shardings = partitioning.param_shardings(
            transformer.abstract_params(config),
            transformer.param_logical_axes(config),
            mesh,
            partitioning.logical_axis_rules(),
        )
    # Loaded to one device, then placed: `load_params(path, shardings)` fails on orbax's tree
    # metadata (reported); switch to it once fixed, so large models never gather on one device.
    params = checkpoints.load_params(checkpoint_path)
    if shardings is not None:
        params = jax.device_put(params, shardings)
    return decoding.decoder_fns(config, np.dtype(cache_dtype)), params
