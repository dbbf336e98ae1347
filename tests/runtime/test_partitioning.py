"""Mesh and logical-axis rules (`runtime.partitioning`) and the gin files setting them."""

import pathlib

import gin
import jax
import pytest
from jax.sharding import PartitionSpec

from mathft_jax.runtime import partitioning

REPO_GIN = pathlib.Path(__file__).resolve().parents[2] / "gin"


def test_make_mesh_fills_the_minus_one_and_names_a_bad_shape():
    mesh = partitioning.make_mesh((2, -1, 2))
    assert dict(mesh.shape) == {"data": 2, "fsdp": len(jax.devices()) // 4, "tensor": 2}
    with pytest.raises(ValueError, match="at most one -1"):
        partitioning.make_mesh((-1, -1, 1))
    with pytest.raises(ValueError, match="does not divide"):
        partitioning.make_mesh((3, -1, 1))


def test_logical_to_spec_maps_by_rules_and_replicates_indivisible_dims():
    mesh = partitioning.make_mesh((1, 4, 2))
    rules = partitioning.DEFAULT_RULES
    assert partitioning.logical_to_spec(("embed", "mlp"), (8, 6), mesh, rules) == PartitionSpec(
        "fsdp", "tensor"
    )
    # 6 does not divide by fsdp=4: replicated rather than an error.
    assert partitioning.logical_to_spec(("embed", "mlp"), (6, 6), mesh, rules) == PartitionSpec(
        None, "tensor"
    )
    assert partitioning.batch_shards(mesh, rules) == 4


@pytest.mark.parametrize("name", ["data_parallel", "fsdp", "fsdp_tensor"])
def test_repo_partitioning_gin_files_bind_the_runtime_mesh_and_rules(name):
    gin.clear_config()
    try:
        gin.parse_config_file(str(REPO_GIN / "partitioning" / f"{name}.gin"))
        mesh = partitioning.make_mesh()
        rules = dict(partitioning.logical_axis_rules())
    finally:
        gin.clear_config()
    assert mesh.axis_names == ("data", "fsdp", "tensor")
    assert rules["batch"] == ("data", "fsdp")
    assert rules["embed"] == (None if name == "data_parallel" else "fsdp")
