"""Grade a candidates row once: extract answers, cluster them, mark each cluster correct.

Everything downstream (metrics at every N, subsets, reports) works on the `GradedProblem` this
returns, so the slow symbolic work (`is_equiv`) happens once per problem: while clustering (only
against representatives) and once per cluster against the ground truth.

Answers (`mathft_jax.candidates.sample_answers`): a sample's recorded `sample_answers[i]` is used
when it is a string; when it is null or the file has no `sample_answers`, or with
`reextract=True`, the answer is extracted from the text.
(The bayesprm pool records only nulls; re-extracting a null that meant "no \\boxed" finds none again.)
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import sys
import time
from collections.abc import Callable, Sequence

from mathft_jax.candidates import Candidates, ExtractFn, has_answer, sample_answers
from mathft_jax.evaluation.clustering import (
    CanonFn,
    EquivFn,
    KeyFn,
    cluster_answers,
    cluster_correctness,
    default_value_key,
)


@dataclasses.dataclass(frozen=True)
class GradedProblem:
    """One problem after grading; light enough to send between processes."""

    unique_id: str
    answers: tuple[str | None, ...]  # [num_samples] final answers used
    assignment: tuple[int, ...]  # [num_samples] cluster index, -1 for no answer
    representatives: tuple[str, ...]  # [num_clusters]
    cluster_correct: tuple[bool, ...]  # [num_clusters]
    scores: tuple[float, ...] | None  # [num_samples] verifier scores
    greedy_correct: bool | None  # None when the row has no greedy text
    num_distinct_answers: int
    num_equiv_calls: int
    # Grader calls on this problem that answered "not equal" because a bound was hit or the text
    # could not be read (`grading.grading_stats` kinds in GRADING_ISSUES; only non-zero kinds).
    grading_issues: tuple[tuple[str, int], ...] = ()

    @property
    def num_samples(self) -> int:
        return len(self.assignment)


@dataclasses.dataclass(frozen=True)
class Grader:
    """The grading functions; defaults come from `mathft_jax.grading` (imported lazily)."""

    extract: ExtractFn
    equiv: EquivFn
    canon: CanonFn
    value_key: KeyFn | None = None  # see `clustering.cluster_answers`
    stats: Callable[[], dict[str, int]] | None = None  # per-process counters (grading_stats)

    @classmethod
    def default(cls) -> Grader:
        from mathft_jax import grading

        return cls(
            grading.extract_answer,
            grading.is_equiv,
            grading.canonical_form,
            default_value_key(),
            grading.grading_stats,
        )


# The `grading_stats` counters that mean "answered not equal without judging": reported per run.
GRADING_ISSUES = ("guard_rejections", "timeouts", "parse_failures", "errors")


def _issues(before: dict[str, int], after: dict[str, int]) -> tuple[tuple[str, int], ...]:
    deltas = ((k, after.get(k, 0) - before.get(k, 0)) for k in GRADING_ISSUES)
    return tuple((k, d) for k, d in deltas if d)


def grade_problem(
    row: Candidates, grader: Grader | None = None, reextract: bool = False
) -> GradedProblem:
    """Extracts, clusters and grades one row (see module docstring)."""
    grader = grader or Grader.default()
    before = grader.stats() if grader.stats else {}
    answers = sample_answers(row, grader.extract, reextract)
    clustering = cluster_answers(answers, grader.equiv, grader.canon, grader.value_key)
    correct = cluster_correctness(row.answer, clustering, grader.equiv, grader.canon)
    greedy_correct = None
    if row.greedy is not None:
        greedy_answer = grader.extract(row.greedy)
        greedy_correct = has_answer(greedy_answer) and bool(grader.equiv(row.answer, greedy_answer))
    return GradedProblem(
        unique_id=row.unique_id,
        answers=tuple(answers),
        assignment=clustering.assignment,
        representatives=tuple(c.representative for c in clustering.clusters),
        cluster_correct=correct,
        scores=row.verifier_scores,
        greedy_correct=greedy_correct,
        num_distinct_answers=len({a for a in answers if a is not None}),
        num_equiv_calls=clustering.num_equiv_calls,
        grading_issues=_issues(before, grader.stats()) if grader.stats else (),
    )


def _grade_default(args: tuple[Candidates, bool]) -> GradedProblem:
    return grade_problem(args[0], None, args[1])


def grade_all(
    rows: Sequence[Candidates],
    grader: Grader | None = None,
    reextract: bool = False,
    workers: int = 1,
    progress_every_s: float = 5.0,
) -> list[GradedProblem]:
    """Grades every row, in order; `workers` > 1 uses processes (default grader only).

    Prints a progress line to stderr every `progress_every_s` seconds on long inputs.
    """
    if workers > 1 and grader is not None:
        raise ValueError("grade_all: a custom grader runs in-process only (workers=1)")
    start = last = time.monotonic()
    out: list[GradedProblem] = []

    def tick() -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= progress_every_s or len(out) == len(rows):
            if now - start >= progress_every_s:
                print(
                    f"graded {len(out)}/{len(rows)} problems in {now - start:.1f}s",
                    file=sys.stderr,
                    flush=True,
                )
            last = now

    if workers > 1:
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            for graded in pool.map(_grade_default, [(r, reextract) for r in rows], chunksize=4):
                out.append(graded)
                tick()
    else:
        grader = grader or Grader.default()
        for row in rows:
            out.append(grade_problem(row, grader, reextract))
            tick()
    logging.info("graded %d problems in %.1fs", len(out), time.monotonic() - start)
    return out
