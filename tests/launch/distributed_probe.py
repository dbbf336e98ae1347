"""A stand-in stage for the local.sh loopback test: joins the multi-process JAX job that local.sh
describes in env (MATHFT_COORDINATOR_ADDRESS, MATHFT_NUM_PROCESSES, MATHFT_PROCESS_ID) and sums
one value per device across processes; prints the result as JSON. With `--via_train` it joins
through `mathft_jax.distributed` (what train, decode and score use) instead of calling JAX directly.
"""

import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P


def main() -> None:
    if "--via_train" in sys.argv[1:]:
        from mathft_jax import distributed

        _, settings = distributed.split_flags([])  # the MATHFT_* env that launch/local.sh sets
        distributed.initialize(settings)
    else:
        jax.distributed.initialize(
            coordinator_address=os.environ["MATHFT_COORDINATOR_ADDRESS"],
            num_processes=int(os.environ["MATHFT_NUM_PROCESSES"]),
            process_id=int(os.environ["MATHFT_PROCESS_ID"]),
        )
    mesh = jax.make_mesh((jax.device_count(),), ("data",))
    # Each process holds its local devices' shard: (process index + 1) on every device.
    local = np.full((jax.local_device_count(),), jax.process_index() + 1, np.float32)
    x = jax.make_array_from_process_local_data(NamedSharding(mesh, P("data")), local)
    total = jax.jit(jnp.sum, out_shardings=NamedSharding(mesh, P()))(x)
    print(
        json.dumps(
            {
                "process": jax.process_index(),
                "processes": jax.process_count(),
                "devices": jax.device_count(),
                "sum": float(total),
            }
        )
    )
    jax.distributed.shutdown()


if __name__ == "__main__":
    main()
