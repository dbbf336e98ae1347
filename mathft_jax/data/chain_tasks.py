"""The `chain` task's SeqIO-side tasks, registered when gin asks for them.

    MIXTURE_OR_TASK_NAME = @chain_task()      (gin/data/chain.gin)

`chain_task(kind)` registers `chain_ssft` / `chain_eval` (replacing earlier registrations) and
returns the name asked for, so a job needs no import side effect to see them. Sizes and the seed
bind in gin (`chain_problems.num_train = ...`); `load_problems("chain", split)` reads the same.
No TensorFlow or JAX import.
"""

import functools
import random

import gin

from mathft_jax.data import chain, prompts, synthetic
from mathft_jax.data.registry import TextExample, register_task

KINDS = ("ssft", "eval", "facts")
FACTS_PROMPT = "Facts: "


@gin.configurable
def chain_problems(
    split: str, num_train: int = 20000, num_eval: int = 500, seed: int = 0, variant: str = "carry"
) -> list[synthetic.SynthExample]:
    """The chain split; sizes, seed and variant bind in gin (`chain_problems.num_train = ...`)."""
    return _cached(split, num_train if split == "train" else num_eval, seed, variant)


@functools.lru_cache(maxsize=16)
def _cached(split: str, size: int, seed: int, variant: str) -> list[synthetic.SynthExample]:
    return chain.generate(split, size, seed, variant)


def _ssft(
    split: str, slip_rate: float = 0.0, carry_rate: float = 0.0, check_rate: float | None = None
) -> list[TextExample]:
    """SSFT examples; with `slip_rate` > 0 the training solutions are a fallible teacher's
    (`chain.with_slips`), the other splits stay clean."""
    slips = split == "train" and (slip_rate > 0 or carry_rate > 0 or bool(check_rate))
    return [
        {
            "inputs": prompts.ssft_prompt(e.problem),
            "targets": chain.with_slips(e, slip_rate, i, carry_rate, check_rate)
            if slips
            else e.solution,
        }
        for i, e in enumerate(chain_problems(split))
    ]


@gin.configurable
def chain_facts(
    split: str, num_docs: int = 20000, facts_per_doc: int = 12, signs: str = "+-"
) -> list[TextExample]:
    """The base model's corpus: running sums of mod-10 table facts (`chain.arithmetic_facts`)."""
    size = num_docs if split == "train" else 500
    return [
        {
            "inputs": FACTS_PROMPT,
            "targets": chain.arithmetic_facts(
                random.Random(f"facts-{split}-{i}"), facts_per_doc, signs
            ),
        }
        for i in range(size)
    ]


def register_chain_tasks(
    teacher_slip_rate: float = 0.0,
    carry_slip_rate: float = 0.0,
    check_slip_rate: float | None = None,
) -> list[str]:
    """Registers `chain_ssft` (all splits), `chain_eval` (validation, test) and `chain_facts`
    (the base model's corpus); returns the names."""
    register_task(
        "chain_ssft",
        functools.partial(
            _ssft,
            slip_rate=teacher_slip_rate,
            carry_rate=carry_slip_rate,
            check_rate=check_slip_rate,
        ),
        replace=True,
    )
    register_task("chain_eval", _ssft, splits=("validation", "test"), replace=True)
    register_task("chain_facts", chain_facts, replace=True)
    return ["chain_ssft", "chain_eval", "chain_facts"]


@gin.configurable
def chain_task(
    kind: str = "ssft",
    teacher_slip_rate: float = 0.0,
    teacher_carry_slip_rate: float = 0.0,
    teacher_check_slip_rate: float | None = None,
) -> str:
    """Registers the chain tasks and returns the name of the `kind` one (`chain_{kind}`).

    `teacher_slip_rate` > 0 (mod10 variants only) writes the training solutions with slips;
    `teacher_carry_slip_rate` adds the carry habit, `teacher_check_slip_rate` sets the check's
    slip rate (mod10check; default: `teacher_slip_rate`).
    """
    if kind not in KINDS:
        raise ValueError(f"chain_task.kind must be one of {KINDS}, got {kind!r}")
    if not 0 <= teacher_slip_rate < 1:
        raise ValueError(f"chain_task.teacher_slip_rate must be in [0, 1), got {teacher_slip_rate}")
    if not 0 <= teacher_carry_slip_rate < 1:
        raise ValueError(
            f"chain_task.teacher_carry_slip_rate must be in [0, 1), got {teacher_carry_slip_rate}"
        )
    register_chain_tasks(teacher_slip_rate, teacher_carry_slip_rate, teacher_check_slip_rate)
    return f"chain_{kind}"
