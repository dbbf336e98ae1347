"""Verifier tasks from a sampled pool, named in gin: `MIXTURE_OR_TASK_NAME = @pool_verifier_task()`.

The recipe samples the SSFT model on training problems, then trains the verifier on the graded
samples. The training job is its own process, so the tasks must be registered inside it: gin calls
this function while configuring `train`, registers `{prefix}_verifier_xent|_verifier_pairs|
_contrastive_pairs` from the candidates file and hands back the one asked for.
"""

import gin

from mathft_jax.data.math_tasks import register_verifier_tasks

KINDS = ("verifier_xent", "verifier_pairs", "contrastive_pairs")


@gin.configurable
def pool_verifier_task(
    candidates_path: str = gin.REQUIRED, kind: str = "verifier_xent", prefix: str = "pool"
) -> str:
    """Registers the pool's verifier tasks and returns the name of the `kind` one."""
    if kind not in KINDS:
        raise ValueError(f"pool_verifier_task.kind must be one of {KINDS}, got {kind!r}")
    names = register_verifier_tasks(prefix, candidates_path)
    name = f"{prefix}_{kind}"
    assert name in names, (name, names)
    return name
