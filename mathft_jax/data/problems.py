"""Problems for decoding and evaluation: `load_problems("math" | "synth" | "chain", split)`.

MATH splits follow Lightman et al. (`splits.py`): test = the 500 (in MATH-500 order), validation =
500 hashed out of the other 12,000, train = the remaining 11,500. Problems whose solution has no
final answer cannot be graded, so they are left out here, counted and logged.
No TensorFlow or JAX import.
"""

import dataclasses
import functools
import logging
import os

import gin

from mathft_jax.data import paths, readers, splits, synthetic

log = logging.getLogger(__name__)
SOURCES = ("math", "synth", "chain")


@dataclasses.dataclass(frozen=True)
class Problem:
    """A problem with its ground-truth final answer and a reference solution."""

    unique_id: str
    problem: str
    answer: str
    solution: str


@gin.configurable
def synth_problems(
    split: str, num_train: int = 20000, num_eval: int = 500, seed: int = 0
) -> list[synthetic.SynthExample]:
    """The synth split; sizes and seed bind in gin (`synth_problems.num_train = ...`)."""
    return _synth_cached(split, num_train if split == "train" else num_eval, seed)


@functools.lru_cache(maxsize=16)
def _synth_cached(split: str, size: int, seed: int) -> list[synthetic.SynthExample]:
    return synthetic.generate(split, size, seed)


@functools.lru_cache(maxsize=4)
def math_split_records(data_dir: str, split: str) -> tuple[readers.MathRecord, ...]:
    """MATH records of one Lightman split (cached per process)."""
    records = {r.unique_id: r for r in readers.read_math(data_dir, paths.on_bad_input())}
    ids = splits.read_math500_ids(os.path.join(data_dir, "math500_ids.txt"))
    chosen = splits.lightman_split(list(records), ids)[split]
    return tuple(records[i] for i in chosen)


def load_problems(
    source: str,
    split: str,
    data_dir: str | None = None,
    synth_seed: int = 0,
    num_examples: int | None = None,
) -> list[Problem]:
    """The problems of a split.

    Args:
      source: "math" (MATHFT_DATA_DIR or `data_dir`), "synth" or "chain" (built in, seeded).
      split: "train", "validation" or "test".
      synth_seed, num_examples: for "synth" and "chain", the generator seed and split size
        (default: the gin-bound `synth_problems` / `chain_tasks.chain_problems` split); for "math",
        `num_examples` keeps the first n.
    """
    if split not in ("train", "validation", "test"):
        raise ValueError(f'split must be "train", "validation" or "test", got {split!r}')
    if source == "synth":
        if num_examples is None:
            examples = synth_problems(split)
        else:
            examples = synthetic.generate(split, num_examples, synth_seed)
        return [Problem(e.unique_id, e.problem, e.answer, e.solution) for e in examples]
    if source == "chain":  # the smoke task (data/chain.py); sizes bound in gin like synth's
        from mathft_jax.data import chain, chain_tasks

        if num_examples is None:
            examples = chain_tasks.chain_problems(split)
        else:
            examples = chain.generate(split, num_examples, synth_seed)
        return [Problem(e.unique_id, e.problem, e.answer, e.solution) for e in examples]
    if source != "math":
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    records = math_split_records(str(paths.math_data_dir(data_dir)), split)
    kept = [Problem(r.unique_id, r.problem, r.answer, r.solution) for r in records if r.answer]
    if len(kept) < len(records):
        dropped = [r.unique_id for r in records if not r.answer]
        log.warning(
            "MATH %s: %d problems without a boxed answer left out: %s", split, len(dropped), dropped
        )
    return kept[:num_examples] if num_examples is not None else kept
