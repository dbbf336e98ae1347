"""The synthetic tasks: SSFT, evaluation and verifier data from the built-in arithmetic problems.

Registered by `register_synth_tasks()` (called from `tasks.register_builtin_tasks`); the examples
are built when a split is asked for, from the gin-bound `problems.synth_problems` split. Wrong
solutions come from `synthetic.corrupt_solution`.
"""

from mathft_jax.data import problems, prompts, synthetic, verifier_data
from mathft_jax.data.registry import (
    CONTRASTIVE_PAIR_GROUPS,
    VERIFIER_PAIR_GROUPS,
    TextExample,
    register_task,
)


def _synth_ssft(split: str) -> list[TextExample]:
    return [
        {"inputs": prompts.ssft_prompt(e.problem), "targets": e.solution}
        for e in problems.synth_problems(split)
    ]


def _synth_labelled(split: str) -> list[verifier_data.LabelledSolutions]:
    return [
        verifier_data.LabelledSolutions(
            e.unique_id,
            e.problem,
            (e.solution,),
            (synthetic.corrupt_solution(e),),
            reference=e.solution,
        )
        for e in problems.synth_problems(split)
    ]


def register_synth_tasks() -> None:
    """synth_ssft, synth_eval, synth_verifier_xent, synth_verifier_pairs, synth_contrastive_pairs."""
    register_task("synth_ssft", _synth_ssft)
    register_task("synth_eval", _synth_ssft, splits=("validation", "test"))
    register_task(
        "synth_verifier_xent",
        lambda s: verifier_data.xent_examples(_synth_labelled(s), prompts.verifier_words()),
    )
    register_task(
        "synth_verifier_pairs",
        lambda s: verifier_data.verifier_pair_examples(_synth_labelled(s)),
        groups=VERIFIER_PAIR_GROUPS,
    )
    register_task(
        "synth_contrastive_pairs",
        lambda s: verifier_data.contrastive_pair_examples(_synth_labelled(s)),
        groups=CONTRASTIVE_PAIR_GROUPS,
    )
