"""A stand-in job for test_multihost.py, run through launch/local.sh as 1 process x 4 fake devices or
2 processes x 2: decodes with the fake model on a mesh over every process's devices, as
`generate` and the trainer's greedy Pass@1 hook do, and prints one JSON line.

`generate` runs with the batch sharded over the mesh (outputs gathered from both processes) and
with no mesh (prompts replicated next to params on the mesh, the hook's default); the hook gets
params sharded over the mesh, as the trainer holds them.
"""

import json

import decode_fakes as fakes
import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from mathft_jax import distributed
from mathft_jax.inference import generation, hooks
from mathft_jax.inference.decoding import DecodeConfig
from mathft_jax.inference.sampling import SamplingConfig
from mathft_jax.runtime import multihost

PROMPTS = [f"Q: {i} + {i}?" for i in range(5)]  # 5 prompts in batches of 4: one padded batch
HOOK_PROBLEMS = [fakes.Problem("a", "7?", "7"), fakes.Problem("b", "3?", "3")]
HOOK_PROBLEMS += [fakes.Problem("c", "5?", "4")]


def main() -> None:
    _, settings = distributed.split_flags([])  # the MATHFT_* env that launch/local.sh sets
    distributed.initialize(settings)
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()), ("data",))  # as partitioning.make_mesh
    params = multihost.place_params(fakes.init_params(), mesh)
    texts = {
        name: generation.generate(
            params,
            PROMPTS,
            range(len(PROMPTS)),
            model=fakes.MODEL,
            vocab=fakes.ByteVocab(),
            config=DecodeConfig(
                num_samples=2,
                max_decode_len=8,
                sampling=SamplingConfig(),
                include_greedy=True,
                batch_size=4,
                max_prompt_len=16,
                seed=3,
            ),
            mesh=batch_mesh,
        )
        for name, batch_mesh in (("sharded", mesh), ("replicated", None))
    }
    sharded_params = jax.device_put(
        np.zeros(jax.device_count(), np.float32), NamedSharding(mesh, PartitionSpec("data"))
    )
    pass_at_1 = {}
    for name, hook_mesh in (("sharded", mesh), ("replicated", None)):
        hook = hooks.greedy_pass_at_1_hook(
            HOOK_PROBLEMS,
            model=fakes.scripted_model(),
            vocab=fakes.ByteVocab(),
            prompt_fn=lambda p: p,
            num_problems=None,
            batch_size=4,
            max_prompt_len=4,
            max_decode_len=20,
            mesh=hook_mesh,
        )
        pass_at_1[name] = hook(sharded_params, 1)["greedy_pass_at_1"]
    result = {
        "process": jax.process_index(),
        "processes": jax.process_count(),
        "devices": jax.device_count(),
        "texts": texts,
        "pass_at_1": pass_at_1,
    }
    print(json.dumps(result), flush=True)
    if jax.process_count() > 1:
        jax.distributed.shutdown()


if __name__ == "__main__":
    main()
