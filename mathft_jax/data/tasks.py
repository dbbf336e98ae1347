"""The task registry: name -> text examples per split, and the built-in tasks.

A task is a function `split -> list[dict[str, str]]` of untokenized examples with `inputs`/`targets`
(or, for pair tasks, the same per group: `pos_`, `neg_`, `gen_`). The pipeline tokenizes and caches
them; `seqio_tasks.py` registers the same tasks with seqio for T5X-style use. A mixture concatenates
its tasks (seqio's default rate: proportional to example counts).

Built-in names: synth_ssft, synth_eval, synth_verifier_xent, synth_verifier_pairs,
synth_contrastive_pairs; math_ssft_human, math_ssft_prm800k, math_ssft_mix, math_verifier_xent,
math_verifier_pairs, math_contrastive_pairs, math500_eval; and `{prefix}_verifier_xent`,
`{prefix}_verifier_pairs`, `{prefix}_contrastive_pairs` from `register_verifier_tasks`.
"""

import dataclasses
import functools
import logging
from collections.abc import Callable

import gin
from mathft_jax.data import prompts, synthetic, verifier_data

TextExample = dict[str, str]
BuildFn = Callable[[str], list[TextExample]]
SINGLE = ("",)
VERIFIER_PAIR_GROUPS = ("pos", "neg", "gen")
PAIR_GROUPS = ("pos", "neg")
ALL_SPLITS = ("train", "validation", "test")


@dataclasses.dataclass(frozen=True)
class TextTask:
    """A registered task: its feature groups and its example builder."""

    name: str
    build: BuildFn
    groups: tuple[str, ...] = SINGLE
    splits: tuple[str, ...] = ALL_SPLITS

    def examples(self, split: str) -> list[TextExample]:
        """The split's text examples; a clear error for a split the task lacks."""
        if split not in self.splits:
            raise ValueError(f"task {self.name!r} has splits {self.splits}, not {split!r}")
        return self.build(split)


_REGISTRY: dict[str, TextTask] = {}


def feature_keys(group: str) -> tuple[str, str]:
    """(inputs key, targets key) of a group: ("inputs", "targets") or ("pos_inputs", "pos_targets")."""
    return (f"{group}_inputs", f"{group}_targets") if group else ("inputs", "targets")


def register_task(
    name: str,
    build: BuildFn,
    groups: tuple[str, ...] = SINGLE,
    splits: tuple[str, ...] = ALL_SPLITS,
    replace: bool = False,
) -> TextTask:
    """Adds a task; `replace=True` lets a run re-register a name (e.g. after a new sampling round)."""
    if name in _REGISTRY and not replace:
        raise ValueError(f"task {name!r} is already registered (pass replace=True to override)")
    task = TextTask(name, build, tuple(groups), tuple(splits))
    _REGISTRY[name] = task
    return task


def register_mixture(name: str, task_names: list[str], replace: bool = False) -> TextTask:
    """A task that concatenates others' examples (all must share feature groups)."""
    groups = {get_task(t).groups for t in task_names}
    if len(groups) != 1:
        raise ValueError(f"mixture {name!r}: tasks {task_names} have different feature groups")

    def build(split: str) -> list[TextExample]:
        return [ex for t in task_names for ex in get_task(t).examples(split)]

    splits = tuple(s for s in ALL_SPLITS if all(s in get_task(t).splits for t in task_names))
    return register_task(name, build, groups.pop(), splits, replace=replace)


def get_task(name: str) -> TextTask:
    """The registered task; the error lists what is registered."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown task {name!r}; registered: {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def task_names() -> list[str]:
    """All registered task and mixture names."""
    return sorted(_REGISTRY)


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
logging.getLogger(__name__).debug("registered %d built-in tasks", len(_REGISTRY))
