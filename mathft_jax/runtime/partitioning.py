"""Mesh and logical-axis partitioning: the mesh and the logical->mesh rules come from gin only.

Mesh axes are ("data", "fsdp", "tensor"); a size of -1 takes the remaining devices. Rules map the
model's logical names (`vocab, embed, mlp, heads, kv_heads, kv, layers, batch, length`) to mesh
axes; a parameter dim whose size does not divide the mesh axes it maps to is replicated instead
(logged once), so tiny test models run on any mesh.

    python -m pytest -q tests/training/test_train_step.py tests/runtime
"""

import logging
import math
from collections.abc import Sequence
from typing import Any

import gin
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

log = logging.getLogger(__name__)

MESH_AXES = ("data", "fsdp", "tensor")
Rules = Sequence[tuple[str, Any]]
DEFAULT_RULES: Rules = (
    ("batch", ("data", "fsdp")),
    ("vocab", "tensor"),
    ("embed", "fsdp"),
    ("mlp", "tensor"),
    ("heads", "tensor"),
    ("kv_heads", "tensor"),
    ("kv", None),
    ("layers", None),
    ("length", None),
)


@gin.configurable
def make_mesh(
    shape: Sequence[int] = (-1, 1, 1),
    axes: Sequence[str] = MESH_AXES,
    devices: Sequence[Any] | None = None,
) -> Mesh:
    """A mesh over all (global) devices; one entry of `shape` may be -1 (the rest)."""
    devices = list(jax.devices() if devices is None else devices)
    shape = list(shape)
    if len(shape) != len(axes):
        raise ValueError(f"make_mesh.shape={shape} and axes={axes} (gin) differ in length")
    if shape.count(-1) > 1:
        raise ValueError(f"make_mesh.shape={shape} (gin): at most one -1")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if len(devices) % known:
            raise ValueError(
                f"make_mesh.shape={shape} (gin) does not divide {len(devices)} devices"
            )
        shape[shape.index(-1)] = len(devices) // known
    if math.prod(shape) != len(devices):
        raise ValueError(
            f"make_mesh.shape={shape} (gin) needs {math.prod(shape)} devices, have {len(devices)}"
        )
    return Mesh(np.asarray(devices).reshape(shape), tuple(axes))


@gin.configurable
def logical_axis_rules(rules: Rules = DEFAULT_RULES) -> tuple[tuple[str, Any], ...]:
    """The logical->mesh axis rules bound in gin/partitioning/*.gin."""
    return tuple((name, tuple(t) if isinstance(t, list) else t) for name, t in rules)


def _mesh_axes_for(name: str | None, rules: Rules) -> tuple[str, ...]:
    if name is None:
        return ()
    for logical, target in rules:
        if logical == name:
            if target is None:
                return ()
            return (target,) if isinstance(target, str) else tuple(target)
    return ()


def logical_to_spec(
    logical: PartitionSpec | Sequence[str | None],
    shape: Sequence[int],
    mesh: Mesh,
    rules: Rules,
) -> PartitionSpec:
    """Mesh PartitionSpec for one array; each mesh axis used at most once, indivisible dims replicated."""
    used: set[str] = set()
    out = []
    for name, size in zip(tuple(logical), shape, strict=False):
        axes = tuple(a for a in _mesh_axes_for(name, rules) if a not in used and mesh.shape[a] > 1)
        n = math.prod(mesh.shape[a] for a in axes)
        if axes and size % n:
            log.info(
                "replicating dim %s (size %d): not divisible by mesh axes %s", name, size, axes
            )
            axes = ()
        used.update(axes)
        out.append(None if not axes else axes[0] if len(axes) == 1 else axes)
    return PartitionSpec(*out)


def param_shardings(abstract: Any, logical_specs: Any, mesh: Mesh, rules: Rules) -> Any:
    """NamedShardings for a params pytree, from its shapes and logical-axis PartitionSpecs."""
    return jax.tree.map(
        lambda a, spec: NamedSharding(mesh, logical_to_spec(spec, a.shape, mesh, rules)),
        abstract,
        logical_specs,
        is_leaf=lambda x: isinstance(x, PartitionSpec),
    )


def batch_sharding(mesh: Mesh, rules: Rules) -> NamedSharding:
    """Sharding of [batch, length] arrays: batch over the mesh axes `batch` maps to."""
    axes = tuple(a for a in _mesh_axes_for("batch", rules) if a in mesh.shape)
    return NamedSharding(mesh, PartitionSpec(axes or None, None))


def batch_shards(mesh: Mesh, rules: Rules) -> int:
    """How many ways the global batch is split (it must divide the batch size)."""
    return math.prod(mesh.shape[a] for a in _mesh_axes_for("batch", rules) if a in mesh.shape)


def opt_state_shardings(
    opt_state_shapes: Any, params_abstract: Any, params_sh: Any, mesh: Mesh
) -> Any:
    """Shard optimizer moments like the params they mirror (matched by shape); replicate the rest."""
    by_shape: dict[tuple, NamedSharding] = {}
    for a, s in zip(jax.tree.leaves(params_abstract), jax.tree.leaves(params_sh), strict=True):
        by_shape.setdefault(tuple(a.shape), s)
    replicated = NamedSharding(mesh, PartitionSpec())
    return jax.tree.map(lambda a: by_shape.get(tuple(a.shape), replicated), opt_state_shapes)


def global_batch(local: Any, sharding: NamedSharding) -> Any:
    """Host-local numpy batch (this host's rows) -> global jax arrays with `sharding`."""
    return jax.tree.map(
        lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), local
    )
