"""The task registry: a task is a function `split -> list[dict[str, str]]` of untokenized examples.

Examples carry `inputs`/`targets`, or the same per group for pair tasks (`pos_`, `neg_`, `gen_`).
Kept apart from `tasks.py` (which registers the built-in tasks) so task modules can import it
without a cycle. No TensorFlow or JAX import.
"""

import dataclasses
from collections.abc import Callable

TextExample = dict[str, str]
BuildFn = Callable[[str], list[TextExample]]
SINGLE = ("",)
# Pair tasks: verifier-form (pos/neg = verifier prompts) and generator-form contrastive
# (pos/neg = SSFT prompt -> sampled solution); both carry `gen` = SSFT prompt -> reference solution.
VERIFIER_PAIR_GROUPS = ("pos", "neg", "gen")
CONTRASTIVE_PAIR_GROUPS = ("pos", "neg", "gen")
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
