"""The `chain` task's SeqIO-side tasks, registered when gin asks for them.

    MIXTURE_OR_TASK_NAME = @chain_task()      (gin/data/chain.gin)

`chain_task(kind)` registers `chain_ssft` / `chain_eval` (replacing earlier registrations) and
returns the name asked for, so a job needs no import side effect to see them. Sizes and the seed
bind in gin (`chain_problems.num_train = ...`); `load_problems("chain", split)` reads the same.
No TensorFlow or JAX import.
"""

import functools

import gin

from mathft_jax.data import chain, prompts, synthetic
from mathft_jax.data.registry import TextExample, register_task

KINDS = ("ssft", "eval")


@gin.configurable
def chain_problems(
    split: str, num_train: int = 20000, num_eval: int = 500, seed: int = 0
) -> list[synthetic.SynthExample]:
    """The chain split; sizes and seed bind in gin (`chain_problems.num_train = ...`)."""
    return _cached(split, num_train if split == "train" else num_eval, seed)


@functools.lru_cache(maxsize=16)
def _cached(split: str, size: int, seed: int) -> list[synthetic.SynthExample]:
    return chain.generate(split, size, seed)


def _ssft(split: str) -> list[TextExample]:
    return [
        {"inputs": prompts.ssft_prompt(e.problem), "targets": e.solution}
        for e in chain_problems(split)
    ]


def register_chain_tasks() -> list[str]:
    """Registers `chain_ssft` (all splits) and `chain_eval` (validation, test); returns the names."""
    register_task("chain_ssft", _ssft, replace=True)
    register_task("chain_eval", _ssft, splits=("validation", "test"), replace=True)
    return ["chain_ssft", "chain_eval"]


@gin.configurable
def chain_task(kind: str = "ssft") -> str:
    """Registers the chain tasks and returns the name of the `kind` one (`chain_{kind}`)."""
    if kind not in KINDS:
        raise ValueError(f"chain_task.kind must be one of {KINDS}, got {kind!r}")
    register_chain_tasks()
    return f"chain_{kind}"
