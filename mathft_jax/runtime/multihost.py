"""Multi-host helpers: arrays back to the host, process 0's values on every process, and the
placement of a batch and of params on a mesh.

Every process of a multi-host job runs the same program in lockstep; the collectives here
(`to_host` of a sharded array, `from_process_0`) must be called by every process at the same point.
"""

import contextlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import numpy as np

from mathft_jax import locks, paths_io

Mesh = jax.sharding.Mesh
PartitionSpec = jax.sharding.PartitionSpec


def from_process_0(value: Any) -> Any:
    """Process 0's `value` (anything JSON can hold) on every process; `value` itself when the job
    has one process. Every process must call it at the same point (it is a collective)."""
    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils

    source = jax.process_index() == 0
    data = np.frombuffer(json.dumps(value).encode() if source else b"", np.uint8).astype(np.int32)
    size = int(multihost_utils.broadcast_one_to_all(np.int32(data.size)))
    buf = np.zeros(size, np.int32)
    buf[: data.size] = data
    buf = np.asarray(multihost_utils.broadcast_one_to_all(buf))
    return json.loads(buf.astype(np.uint8).tobytes().decode())


def to_host(x: Any) -> np.ndarray:
    """The whole of `x` as a numpy array on this process.

    `np.asarray` alone fails on an array sharded over devices of other processes (a multi-host
    mesh); such an array is all-gathered (a collective: every process calls this in lockstep).
    """
    if not isinstance(x, jax.Array) or x.is_fully_addressable:
        return np.asarray(x)
    if x.is_fully_replicated:
        return np.asarray(x.addressable_data(0))
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def batch_sharding(mesh: Mesh | None, data_axes: Sequence[str] = ("data", "fsdp")) -> Any:
    """Sharding of the batch axis over the mesh's data axes (those of `data_axes` it has)."""
    if mesh is None:
        return None
    axes = tuple(a for a in data_axes if a in mesh.axis_names)
    return jax.sharding.NamedSharding(mesh, PartitionSpec(axes or None))


def place_params(params: Any, mesh: Mesh | None) -> Any:
    """Replicates host/one-device params over the mesh; leaves already-sharded params alone."""
    if mesh is None:
        return params
    replicated = jax.sharding.NamedSharding(mesh, PartitionSpec())

    def put(x):
        sharding = getattr(x, "sharding", None)
        if isinstance(sharding, jax.sharding.NamedSharding) and sharding.mesh == mesh:
            return x
        return jax.device_put(x, replicated)

    return jax.tree.map(put, params)


def acquire_on_process_0(target: paths_io.PathLike, job: str, *, is_dir: bool) -> locks.Lock | None:
    """Process 0 takes the job's lock on `target`; every process learns whether it got it.

    A refusal raises `locks.LockHeldError` on every process (naming the holder), so no process is
    left waiting in a collective for a job that will never start. Returns the lock on process 0
    (release it when done), None elsewhere. A collective: every process calls it together.
    """
    lock, refusal = None, None
    if jax.process_index() == 0:
        try:
            lock = locks.Lock(target, job, is_dir=is_dir).acquire()
        except locks.LockHeldError as err:
            refusal = str(err)
    refusal = from_process_0(refusal)
    if refusal is not None:
        raise locks.LockHeldError(refusal)
    return lock


@contextlib.contextmanager
def hold_lock(target: paths_io.PathLike, job: str, *, is_dir: bool) -> Iterator[None]:
    """`acquire_on_process_0` for a block: the lock is released when the block ends."""
    lock = acquire_on_process_0(target, job, is_dir=is_dir)
    try:
        yield
    finally:
        if lock is not None:
            lock.release()
