"""The built-in tasks (registered on import) and the registry's API, re-exported from `registry.py`.

Every task is a function `split -> list[dict[str, str]]` of untokenized examples; the pipeline
tokenizes and caches them. A mixture concatenates its tasks (seqio's default rate: proportional
to example counts).

Built-in names: synth_ssft, synth_eval, synth_verifier_xent, synth_verifier_pairs,
synth_contrastive_pairs; math_ssft_human, math_ssft_prm800k, math_ssft_mix, math_verifier_xent,
math_verifier_pairs, math_contrastive_pairs, math500_eval; and `{prefix}_verifier_xent`,
`{prefix}_verifier_pairs`, `{prefix}_contrastive_pairs` from `register_verifier_tasks`.
"""

import functools
import logging

import gin

from mathft_jax.data import prompts, synthetic, verifier_data
from mathft_jax.data.registry import (  # noqa: F401 (re-exported: the registry's public API)
    ALL_SPLITS,
    PAIR_GROUPS,
    SINGLE,
    VERIFIER_PAIR_GROUPS,
    TextExample,
    TextTask,
    feature_keys,
    get_task,
    register_mixture,
    register_task,
    task_names,
)

# --------------------------------------------------------------------------- synthetic task


@gin.configurable
def synth_problems(
    split: str, num_train: int = 20000, num_eval: int = 500, seed: int = 0
) -> list[synthetic.SynthExample]:
    """The synth split; sizes and seed bind in gin (`synth_problems.num_train = ...`)."""
    return _synth_cached(split, num_train if split == "train" else num_eval, seed)


@functools.lru_cache(maxsize=16)
def _synth_cached(split: str, size: int, seed: int) -> list[synthetic.SynthExample]:
    return synthetic.generate(split, size, seed)


def _synth_ssft(split: str) -> list[TextExample]:
    return [
        {"inputs": prompts.ssft_prompt(e.problem), "targets": e.solution}
        for e in synth_problems(split)
    ]


def _synth_graded(split: str) -> list[verifier_data.GradedProblem]:
    return [
        verifier_data.GradedProblem(
            e.unique_id, e.problem, (e.solution,), (synthetic.corrupt_solution(e),)
        )
        for e in synth_problems(split)
    ]


def _register_synth() -> None:
    register_task("synth_ssft", _synth_ssft)
    register_task("synth_eval", _synth_ssft, splits=("validation", "test"))
    register_task(
        "synth_verifier_xent",
        lambda s: verifier_data.xent_examples(_synth_graded(s), prompts.verifier_words()),
    )
    register_task(
        "synth_verifier_pairs",
        lambda s: verifier_data.verifier_pair_examples(_synth_graded(s)),
        groups=VERIFIER_PAIR_GROUPS,
    )
    register_task(
        "synth_contrastive_pairs",
        lambda s: verifier_data.contrastive_pair_examples(_synth_graded(s)),
        groups=PAIR_GROUPS,
    )


_register_synth()

# MATH tasks live in their own module; importing it here registers them with every `tasks` import.
from mathft_jax.data import math_tasks  # noqa: E402

math_tasks.register_math_tasks()
logging.getLogger(__name__).debug("registered %d built-in tasks", len(task_names()))
