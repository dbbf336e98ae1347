"""The multi-host helpers on one process with 8 fake devices (tests/inference/test_multihost.py runs
them across processes)."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from mathft_jax.runtime import multihost


def mesh(shape, axes):
    return jax.sharding.Mesh(np.asarray(jax.devices()[: int(np.prod(shape))]).reshape(shape), axes)


def test_batch_sharding_uses_the_data_axes_the_mesh_has():
    assert multihost.batch_sharding(None) is None
    assert multihost.batch_sharding(mesh((2, 4), ("data", "tensor"))).spec == PartitionSpec(
        ("data",)
    )
    both = multihost.batch_sharding(mesh((2, 2, 2), ("data", "fsdp", "tensor")))
    assert both.spec == PartitionSpec(("data", "fsdp"))
    assert multihost.batch_sharding(mesh((8,), ("tensor",))).spec == PartitionSpec(None)


def test_place_params_replicates_host_params_and_keeps_sharded_ones():
    m = mesh((8,), ("data",))
    sharded = jax.device_put(jnp.arange(8.0), NamedSharding(m, PartitionSpec("data")))
    placed = multihost.place_params({"host": np.ones(3), "sharded": sharded}, m)
    assert placed["host"].sharding.is_fully_replicated and placed["host"].sharding.mesh == m
    assert placed["sharded"] is sharded
    params = {"w": np.ones(2)}
    assert multihost.place_params(params, None) is params


def test_to_host_and_from_process_0_on_one_process():
    m = mesh((8,), ("data",))
    x = jax.device_put(jnp.arange(16).reshape(8, 2), NamedSharding(m, PartitionSpec("data")))
    host = multihost.to_host(x)
    assert isinstance(host, np.ndarray)
    np.testing.assert_array_equal(host, np.arange(16).reshape(8, 2))
    assert multihost.from_process_0({"done": ["a", "b"]}) == {"done": ["a", "b"]}
