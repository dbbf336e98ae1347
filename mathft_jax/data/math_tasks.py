"""MATH, PRM800K and candidate-pool tasks.

`register_math_tasks()` (called from `tasks.register_builtin_tasks`) registers the built-in ones;
`register_verifier_tasks(prefix, candidates_path)` the tasks of a sampled pool. Data locations come from gin or the environment (`paths.py`); nothing is read until a task's split
is asked for. PRM800K problems are matched to MATH ids by problem text (whitespace collapsed), so the Lightman
split holds for them too: MATH-500 problems never reach training; unmatched samples are left out
and counted. PRM800K samples are labelled here (`label_prm800k`: answer equivalent to the ground
truth), a pool's samples by `mathft_jax.candidates.label_samples` (`labelled_candidates`); the
readers only read.
"""

import dataclasses
import functools
import hashlib
import logging
import pathlib
import random

import gin

from mathft_jax import candidates, paths_io
from mathft_jax.data import paths, problems, prompts, readers, verifier_data
from mathft_jax.data.registry import (
    CONTRASTIVE_PAIR_GROUPS,
    VERIFIER_PAIR_GROUPS,
    TextExample,
    register_mixture,
    register_task,
)
from mathft_jax.grading import is_equiv_many

log = logging.getLogger(__name__)


def _ssft(problem: str, solution: str) -> TextExample:
    return {"inputs": prompts.ssft_prompt(problem), "targets": solution}


def _math_ssft_human(split: str) -> list[TextExample]:
    return [_ssft(p.problem, p.solution) for p in problems.load_problems("math", split)]


# --------------------------------------------------------------------------- PRM800K


@gin.configurable
def prm800k_files(
    prm800k_dir: str | None = None, pattern: str = "phase*.jsonl"
) -> list[pathlib.Path]:
    """The PRM800K files: `prm800k_dir` (gin) or $MATHFT_PRM800K_DIR, files matching `pattern`."""
    folder = paths.prm800k_dir(prm800k_dir)
    files = sorted(folder.glob(pattern))
    if not files:
        raise FileNotFoundError(f"{folder}: no PRM800K files matching {pattern!r}")
    return files


def label_prm800k(samples: list[readers.PRMSample], workers: int = 2) -> list[readers.PRMSample]:
    """Marks each sample correct when its answer is equivalent to the ground truth (a sample
    without an answer is incorrect); `grading.is_equiv_many` in `workers` processes."""
    todo = [i for i, s in enumerate(samples) if s.answer is not None]
    verdicts = is_equiv_many([(samples[i].ground_truth, samples[i].answer) for i in todo], workers)
    out = [dataclasses.replace(s, correct=False) for s in samples]
    for i, ok in zip(todo, verdicts):
        out[i] = dataclasses.replace(out[i], correct=bool(ok))
    return out


def _key(text: str) -> str:
    return " ".join(text.split())


@functools.lru_cache(maxsize=2)
def _prm800k_by_split(files: tuple[pathlib.Path, ...], data_dir: str) -> dict[str, tuple]:
    """Graded PRM800K samples grouped by the Lightman split of their MATH problem."""
    split_of = {}
    for split in ("train", "validation", "test"):
        for r in problems.math_split_records(data_dir, split):
            split_of[_key(r.problem)] = (split, r.unique_id)
    grouped: dict[str, list] = {"train": [], "validation": [], "test": []}
    unmatched = 0
    for file in files:
        for sample in label_prm800k(readers.read_prm800k(file, on_error=paths.on_bad_input())):
            found = split_of.get(_key(sample.problem))
            if found is None:  # cannot prove it is not a MATH-500 problem: leave it out, counted
                unmatched += 1
                continue
            grouped[found[0]].append((found[1], sample))
    if unmatched:
        log.warning("PRM800K: %d samples match no MATH problem text and were left out", unmatched)
    return {k: tuple(v) for k, v in grouped.items()}


def _prm_samples(split: str) -> tuple:
    data_dir = str(paths.math_data_dir())
    return _prm800k_by_split(tuple(prm800k_files()), data_dir)[split]


@gin.configurable
def prm800k_ssft_options(
    gpt4_only: bool = True, max_per_problem: int | None = 4, seed: int = 0
) -> tuple[bool, int | None, int]:
    """PRM800K SSFT data (gin): `gpt4_only` keeps samples whose every step GPT-4 wrote (a phase-1
    step a labeler wrote instead, `human_completion`, leaves its sample out); `max_per_problem`
    caps the distinct correct solutions per problem (a seeded choice; None: all)."""
    return gpt4_only, max_per_problem, seed


def prm800k_ssft_examples(
    samples: list[tuple[str, readers.PRMSample]],
    gpt4_only: bool = True,
    max_per_problem: int | None = 4,
    seed: int = 0,
) -> list[TextExample]:
    """SSFT examples from graded (unique_id, sample) pairs: correct, distinct, not from a problem
    the labeler flagged as broken, GPT-4-written unless `gpt4_only=False`, at most
    `max_per_problem` per problem."""
    by_id: dict[str, list[readers.PRMSample]] = {}
    human = 0
    for uid, s in samples:
        if s.finish_reason == "bad_problem" or not s.correct:
            continue
        if gpt4_only and s.human_steps:
            human += 1
            continue
        kept = by_id.setdefault(uid, [])
        if all(k.solution != s.solution for k in kept):
            kept.append(s)
    if human:
        log.info("PRM800K SSFT: %d correct samples with labeler-written steps left out", human)
    out = []
    for uid, kept in by_id.items():
        if max_per_problem is not None and len(kept) > max_per_problem:
            rng = random.Random(f"prm800k-ssft-{seed}-{uid}")
            kept = [kept[i] for i in sorted(rng.sample(range(len(kept)), max_per_problem))]
        out += [_ssft(s.problem, s.solution) for s in kept]
    return out


def _math_ssft_prm800k(split: str) -> list[TextExample]:
    return prm800k_ssft_examples(list(_prm_samples(split)), *prm800k_ssft_options())


def _prm_labelled(split: str) -> list[verifier_data.LabelledSolutions]:
    by_id: dict[str, tuple[str, list, list]] = {}
    unfinished = 0
    for uid, s in _prm_samples(split):
        if s.finish_reason == "bad_problem":  # the labeler flagged the problem itself as broken
            continue
        if s.answer is None:  # cut at an error or given up: test-time samples are whole solutions
            unfinished += 1
            continue
        problem, good, bad = by_id.setdefault(uid, (s.problem, [], []))
        target = good if s.correct else bad
        if s.solution not in target:
            target.append(s.solution)
    if unfinished:
        logging.info(
            "PRM800K %s: %d samples without a final answer left out of verifier data",
            split,
            unfinished,
        )
    data_dir = str(paths.math_data_dir())
    references = {r.unique_id: r.solution for r in problems.math_split_records(data_dir, split)}
    return [
        verifier_data.LabelledSolutions(u, p, tuple(g), tuple(b), references.get(u))
        for u, (p, g, b) in by_id.items()
    ]


# --------------------------------------------------------------------------- candidate pools


def reference_solutions(rows: list[candidates.Candidates]) -> dict[str, str]:
    """unique_id -> the problem's reference solution: a row's own `reference` key (kept in
    `Candidates.extra`), else the problems source its `meta` names (`source` "math" | "synth",
    `split`; written by the decode job). Rows with neither get none."""
    out: dict[str, str] = {}
    wanted: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        if isinstance(row.extra.get("reference"), str):
            out[row.unique_id] = row.extra["reference"]
            continue
        source, split = row.meta.get("source"), row.meta.get("split")
        if source in problems.SOURCES:
            for s in [split] if split else ["train", "validation", "test"]:
                wanted.setdefault((source, s), set()).add(row.unique_id)
    for (source, split), ids in wanted.items():
        for p in problems.load_problems(source, split):
            if p.unique_id in ids:
                out[p.unique_id] = p.solution
    return out


def labelled_candidates(
    path: paths_io.PathLike, workers: int = 2
) -> list[verifier_data.LabelledSolutions]:
    """A candidates file (local or gs://) -> one `LabelledSolutions` per row, samples deduplicated.

    A sample's answer follows the evaluate job's rule (`candidates.sample_answers`: a recorded
    answer wins, a null one is extracted); it is correct when equivalent to the row's answer
    (`candidates.label_samples`, `workers` grading processes); no answer is incorrect. The
    reference solution comes from the problems source of the row's meta (`reference_solutions`).
    """
    rows = candidates.read_candidates(path)
    references = reference_solutions(rows)
    labels = candidates.label_samples(rows, workers)
    out = []
    for row, row_labels in zip(rows, labels):
        good, bad, seen = [], [], set()
        for text, correct in zip(row.samples, row_labels):
            if text in seen:
                continue
            seen.add(text)
            (good if correct else bad).append(text)
        out.append(
            verifier_data.LabelledSolutions(
                row.unique_id, row.problem, tuple(good), tuple(bad), references.get(row.unique_id)
            )
        )
    return out


def pool_split(unique_id: str, validation_percent: int) -> str:
    bucket = int.from_bytes(hashlib.sha256(f"pool/{unique_id}".encode()).digest()[:4], "big") % 100
    return "validation" if bucket < validation_percent else "train"


@gin.configurable
def register_verifier_tasks(
    prefix: str,
    candidates_path: str,
    max_per_problem: int | None = 8,
    max_pairs_per_problem: int | None = 4,
    validation_percent: int = 5,
    seed: int = 0,
    balance_xent: bool = False,
) -> list[str]:
    """Registers `{prefix}_verifier_xent`, `{prefix}_verifier_pairs`, `{prefix}_contrastive_pairs`
    from a candidates file (local or gs://; its samples are labelled on first use); re-registering
    a prefix replaces the tasks.

    Problems are split by a hash of `unique_id`: `validation_percent`% validation, the rest train.
    `balance_xent`: the xent task's splits have equal correct/incorrect counts per problem
    (`verifier_data.xent_examples(balance=True)`), so its validation accuracy is a balanced one.
    Returns the registered names.
    """
    path = paths_io.normalize(candidates_path)
    if not paths_io.exists(path):
        raise FileNotFoundError(f"register_verifier_tasks.candidates_path: {path} does not exist")

    @functools.lru_cache(maxsize=1)
    def labelled() -> tuple[verifier_data.LabelledSolutions, ...]:
        return tuple(labelled_candidates(path))

    def split_of(split: str) -> list[verifier_data.LabelledSolutions]:
        return [g for g in labelled() if pool_split(g.unique_id, validation_percent) == split]

    names = [f"{prefix}_verifier_xent", f"{prefix}_verifier_pairs", f"{prefix}_contrastive_pairs"]
    splits = ("train", "validation")
    register_task(
        names[0],
        lambda s: verifier_data.xent_examples(
            split_of(s),
            prompts.verifier_words(),
            max_per_problem,
            seed,
            balance=balance_xent,
        ),
        splits=splits,
        replace=True,
    )
    register_task(
        names[1],
        lambda s: verifier_data.verifier_pair_examples(split_of(s), max_pairs_per_problem, seed),
        groups=VERIFIER_PAIR_GROUPS,
        splits=splits,
        replace=True,
    )
    register_task(
        names[2],
        lambda s: verifier_data.contrastive_pair_examples(split_of(s), max_pairs_per_problem, seed),
        groups=CONTRASTIVE_PAIR_GROUPS,
        splits=splits,
        replace=True,
    )
    return names


def register_math_tasks() -> None:
    """The built-in MATH / PRM800K tasks (lazy: nothing is read until a split is built)."""
    register_task("math_ssft_human", _math_ssft_human, splits=("train", "validation"))
    register_task("math500_eval", _math_ssft_human, splits=("test",))
    register_task("math_ssft_prm800k", _math_ssft_prm800k, splits=("train", "validation"))
    register_mixture("math_ssft_mix", ["math_ssft_human", "math_ssft_prm800k"])
    register_task(
        "math_verifier_xent",
        lambda s: verifier_data.xent_examples(_prm_labelled(s), prompts.verifier_words()),
        splits=("train", "validation"),
    )
    register_task(
        "math_verifier_pairs",
        lambda s: verifier_data.verifier_pair_examples(_prm_labelled(s)),
        groups=VERIFIER_PAIR_GROUPS,
        splits=("train", "validation"),
    )
    register_task(
        "math_contrastive_pairs",
        lambda s: verifier_data.contrastive_pair_examples(_prm_labelled(s)),
        groups=CONTRASTIVE_PAIR_GROUPS,
        splits=("train", "validation"),
    )
