"""What the decode and score entry points share: the vocabulary, the mesh, and
loading a checkpoint into `ModelFns` + params. Thin glue over the data, models and runtime modules.
"""

from typing import Any

import gin
import jax
import numpy as np

from mathft_jax.inference import decoding


def vocabulary() -> Any:
    """The run's vocabulary: `mathft_jax.data.vocabularies.get_vocabulary` (gin: get_vocabulary.kind)."""
    from mathft_jax.data.vocabularies import get_vocabulary  # lazy: imports TensorFlow

    return get_vocabulary()


def mesh() -> jax.sharding.Mesh:
    """The trainer's mesh (`partitioning.make_mesh`, gin/partitioning/*.gin; all devices on data)."""
    from mathft_jax.runtime import partitioning

    return partitioning.make_mesh()


@gin.configurable
def load_model(
    checkpoint_path: str,
    model_config: Any = None,
    cache_dtype: str = "float32",
    mesh: jax.sharding.Mesh | None = None,
    unstack_layers: bool = True,
) -> tuple[decoding.ModelFns, Any]:
    """(ModelFns, params) for a checkpoint (orbax step dir, MODEL_DIR best/latest or HF folder).

    `model_config` defaults to the gin-bound `ModelConfig()` (include a gin/models/*.gin file).
    With a `mesh`, params are placed by the trainer's logical-axis rules (`logical_axis_rules`),
    so a model sharded for training (FSDP, tensor) decodes sharded the same way.
    `unstack_layers=False` decodes with the layers kept scanned (`decoding.decoder_fns`: the same
    tokens, a much faster compile; the TPU plan's decode rows bind it).
    """
    from mathft_jax.models import transformer
    from mathft_jax.models.config import ModelConfig
    from mathft_jax.runtime import checkpoints, partitioning

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
    params = checkpoints.load_params(checkpoint_path, shardings, config)
    return decoding.decoder_fns(config, np.dtype(cache_dtype), unstack_layers), params
