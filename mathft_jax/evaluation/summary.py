"""Aggregate per-problem metrics into the `metrics.json` structure.

Layout of the returned dict (all accuracies in [0, 1], means over problems with 95% CIs):
  pass1            {"kind": "greedy" | "mean_sample_accuracy", mean, ci95_low, ci95_high}
                   (greedy only when every row has greedy text)
  mean_sample_accuracy  {mean, ...}   fraction of correct samples, whatever pass1's kind
  pass_at_k        {"k": {mean, ...}}   unbiased estimator on the whole pool
  by_n             {"n": {"metric": {mean, ci95_low, ci95_high}}}   see metrics.py for names;
                   values at n < pool size are averaged over `num_subsets` seeded subsets
  verifier_within_auc  {mean, ..., num_problems}  the verifier's AUC among one problem's samples
                   (metrics.within_auc), averaged over the problems with both correct and wrong
                   samples (only with verifier scores)
  clustering       distinct answers, clusters, no-answer rate, is_equiv calls (per problem)
  per_problem      full-pool metrics of each problem
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from mathft_jax.evaluation import metrics
from mathft_jax.evaluation.grade import GRADING_ISSUES, GradedProblem

TIE_RULE = (
    "ties (between clusters of equal count or weight, clusters tied at the K-th count, and "
    "samples of equal verifier score) are broken uniformly at random; reported values are the "
    "exact expected accuracy under that choice"
)
SCR_COST_RULE = (
    "SCR-K scores every sample of the top-K clusters (expected count under the tie rule)"
)


def grading_issue_counts(graded: Sequence[GradedProblem]) -> dict[str, int]:
    """Grader calls that answered "not equal" without judging (a size guard, the time budget,
    unreadable text, an error), summed over problems, and how many problems had any."""
    counts = {kind: 0 for kind in GRADING_ISSUES}
    for p in graded:
        for kind, n in p.grading_issues:
            counts[kind] += n
    counts["problems_affected"] = sum(1 for p in graded if p.grading_issues)
    return counts


def default_ns(pool_size: int) -> list[int]:
    """Powers of two below the pool size, then the pool size."""
    ns = [1 << i for i in range(pool_size.bit_length()) if (1 << i) < pool_size]
    return ns + [pool_size]


def check_sizes(graded: Sequence[GradedProblem], ns: Sequence[int], ks: Sequence[int]) -> int:
    """The smallest pool size; raises naming the flag when an N or K cannot be met."""
    pool = min(p.num_samples for p in graded)
    if pool == 0:
        bad = next(p.unique_id for p in graded if p.num_samples == 0)
        raise ValueError(f"problem {bad!r} has no samples; nothing to vote on")
    too_big = [n for n in ns if n > pool or n < 1]
    if too_big:
        raise ValueError(f"--n values {too_big} must lie in [1, {pool}] (the smallest pool size)")
    if any(k < 1 for k in ks):
        raise ValueError(f"--k values must be >= 1, got {list(ks)}")
    return pool


def within_problem_auc(graded: Sequence[GradedProblem]) -> dict[str, Any]:
    """Mean over problems with both correct and wrong samples of the verifier's AUC among that
    problem's samples, with its 95% CI and the number of such problems. It measures ranking
    solutions of one problem (what re-ranking and SCR need), not telling easy problems from hard.
    """
    aucs = []
    for p in graded:
        if p.scores is None:
            continue
        auc = metrics.within_auc(p.scores, metrics.sample_correct(p.assignment, p.cluster_correct))
        if auc is not None:
            aucs.append(auc)
    if not aucs:
        return {"mean": float("nan"), "ci95_low": None, "ci95_high": None, "num_problems": 0}
    return {**metrics.mean_ci(aucs), "num_problems": len(aucs)}


def paired_difference(
    a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]], key: str
) -> dict[str, Any]:
    """Mean of b[key] - a[key] over the problems both `per_problem` lists hold (by unique_id),
    with its 95% CI (paired over problems) and the number of problems."""
    by_id = {row["unique_id"]: row for row in a}
    diffs = [
        float(row[key]) - float(by_id[row["unique_id"]][key])
        for row in b
        if row["unique_id"] in by_id
        and row.get(key) is not None
        and by_id[row["unique_id"]].get(key) is not None
    ]
    if not diffs:
        raise ValueError(f"paired_difference: no problem has {key!r} in both results")
    return {**metrics.mean_ci(diffs, clip01=False), "num_problems": len(diffs)}


def summarize(
    graded: Sequence[GradedProblem],
    ns: Sequence[int] | None = None,
    ks: Sequence[int] = (1, 2, 4),
    seed: int = 0,
    num_subsets: int = 100,
) -> dict[str, Any]:
    """Builds the metrics dict (see module docstring) for graded problems."""
    if not graded:
        raise ValueError("summarize: no problems")
    pool = min(p.num_samples for p in graded)
    ns = sorted(set(ns or default_ns(pool)))
    check_sizes(graded, ns, ks)
    has_scores = all(p.scores is not None for p in graded)
    has_greedy = all(p.greedy_correct is not None for p in graded)
    for what, count in (
        ("verifier_scores", sum(p.scores is not None for p in graded)),
        ("greedy", sum(p.greedy_correct is not None for p in graded)),
    ):
        if 0 < count < len(graded):
            logging.warning(
                "only %d of %d problems have %s; metrics that need it are left out",
                count,
                len(graded),
                what,
            )

    per_problem = []
    by_n: dict[str, dict[str, Any]] = {}
    start = time.monotonic()
    for n in ns:
        if time.monotonic() - start > 5.0:  # progress on long inputs only
            print(f"metrics: N={n} ({time.monotonic() - start:.0f}s)", file=sys.stderr, flush=True)
        rows = []
        for index, p in enumerate(graded):
            # Seeded per (seed, n, problem): a problem's subsets do not depend on the others.
            rng = np.random.default_rng([seed, n, index])
            rows.append(
                metrics.subset_metrics(
                    p.assignment,
                    p.cluster_correct,
                    n,
                    ks,
                    p.scores if has_scores else None,
                    num_subsets,
                    rng,
                )
            )
        by_n[str(n)] = {
            key: metrics.mean_ci([r[key] for r in rows], clip01=not key.startswith("cost_"))
            for key in rows[0]
        }

    for p in graded:
        full = metrics.problem_metrics(
            p.assignment, p.cluster_correct, ks, p.scores if has_scores else None
        )
        full.update(
            unique_id=p.unique_id,
            num_samples=p.num_samples,
            num_clusters=len(p.representatives),
            num_correct_clusters=int(sum(p.cluster_correct)),
            greedy_correct=p.greedy_correct,
        )
        per_problem.append(full)

    if has_greedy:
        pass1 = {"kind": "greedy", **metrics.mean_ci([float(p.greedy_correct) for p in graded])}
    else:
        pass1 = {
            "kind": "mean_sample_accuracy",
            **metrics.mean_ci([r["mean_acc"] for r in per_problem]),
        }
    num_correct = [
        int(metrics.sample_correct(p.assignment, p.cluster_correct).sum()) for p in graded
    ]
    pass_k = {
        str(k): metrics.mean_ci(
            [metrics.pass_at_k(p.num_samples, c, k) for p, c in zip(graded, num_correct)]
        )
        for k in sorted({*ks, *ns})
        if k <= pool
    }

    return {
        "num_problems": len(graded),
        "pool_size": {"min": pool, "max": max(p.num_samples for p in graded)},
        "ns": ns,
        "ks": list(ks),
        "seed": seed,
        "num_subsets": num_subsets,
        "has_verifier_scores": has_scores,
        "tie_rule": TIE_RULE,
        "scr_cost_rule": SCR_COST_RULE,
        "ci": "95% CI of the mean over problems, normal approximation",
        "pass1": pass1,
        "mean_sample_accuracy": metrics.mean_ci([r["mean_acc"] for r in per_problem]),
        "pass_at_k": pass_k,
        "by_n": by_n,
        **({"verifier_within_auc": within_problem_auc(graded)} if has_scores else {}),
        "clustering": {
            "distinct_answers_per_problem": float(
                np.mean([p.num_distinct_answers for p in graded])
            ),
            "clusters_per_problem": float(np.mean([len(p.representatives) for p in graded])),
            "no_answer_rate": float(np.mean([a < 0 for p in graded for a in p.assignment])),
            "equiv_calls_per_problem": float(np.mean([p.num_equiv_calls for p in graded])),
        },
        "grading_issues": grading_issue_counts(graded),
        "per_problem": per_problem,
    }
