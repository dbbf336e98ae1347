"""The verifier's within-problem AUC and the paired multi-task vs SSFT difference (summary.py)."""

import itertools
import math
import random

import pytest

from mathft_jax.evaluation import metrics, summary
from mathft_jax.evaluation.grade import GradedProblem


def _problem(uid, assignment, cluster_correct, scores):
    return GradedProblem(
        unique_id=uid,
        answers=tuple(str(a) for a in assignment),
        assignment=tuple(assignment),
        representatives=tuple(str(c) for c in range(len(cluster_correct))),
        cluster_correct=tuple(cluster_correct),
        scores=None if scores is None else tuple(scores),
        greedy_correct=None,
        num_distinct_answers=len(cluster_correct),
        num_equiv_calls=0,
    )


def test_within_auc_hand_examples():
    assert metrics.within_auc([0.9, 0.2, 0.5], [True, False, True]) == 1.0
    assert metrics.within_auc([0.1, 0.2, 0.5], [True, False, True]) == 0.5  # 0.5 > .2, .1 < .2
    assert metrics.within_auc([0.3, 0.3], [True, False]) == 0.5  # a tie counts half
    assert metrics.within_auc([0.1, 0.9], [True, False]) == 0.0
    assert metrics.within_auc([0.1, 0.9], [True, True]) is None
    assert metrics.within_auc([0.1, 0.9], [False, False]) is None


def test_within_auc_is_the_probability_a_random_pair_is_ordered_right():
    rng = random.Random(0)
    for _ in range(50):
        scores = [rng.choice([0.1, 0.2, 0.3, 0.4]) for _ in range(7)]
        correct = [rng.random() < 0.5 for _ in range(7)]
        pairs = [
            (s, t)
            for (s, c), (t, d) in itertools.product(zip(scores, correct), repeat=2)
            if c and not d
        ]
        got = metrics.within_auc(scores, correct)
        if not pairs:
            assert got is None
            continue
        brute = sum(1.0 if s > t else 0.5 if s == t else 0.0 for s, t in pairs) / len(pairs)
        assert got == pytest.approx(brute)


def test_within_problem_auc_skips_problems_without_both_kinds_and_ignores_easy_vs_hard():
    # Problem a: its right sample outscores its wrong one (AUC 1). Problem b: reversed (AUC 0).
    # Problem c: all right, high scores; d: all wrong, low scores (undefined within: left out,
    # though they would make a pooled AUC look good).
    graded = [
        _problem("a", [0, 1], [True, False], [0.6, 0.4]),
        _problem("b", [0, 1], [True, False], [0.3, 0.5]),
        _problem("c", [0, 0], [True], [0.99, 0.98]),
        _problem("d", [0, -1], [False], [0.01, 0.02]),
    ]
    stat = summary.within_problem_auc(graded)
    assert stat["mean"] == 0.5 and stat["num_problems"] == 2
    assert stat["ci95_low"] < 0.5 < stat["ci95_high"]
    assert summary.within_problem_auc(graded[2:])["num_problems"] == 0
    result = summary.summarize(graded, ks=(1,))
    assert result["verifier_within_auc"]["mean"] == 0.5
    unscored = [_problem("a", [0, 1], [True, False], None)]
    assert "verifier_within_auc" not in summary.summarize(unscored, ks=(1,))


def test_paired_difference_pairs_by_problem_and_takes_b_minus_a():
    a = [{"unique_id": "p1", "maj1": 0.0}, {"unique_id": "p2", "maj1": 1.0},
         {"unique_id": "p3", "maj1": 0.0}]  # fmt: skip
    b = [{"unique_id": "p3", "maj1": 1.0}, {"unique_id": "p1", "maj1": 1.0},
         {"unique_id": "p2", "maj1": 1.0}, {"unique_id": "p9", "maj1": 0.0}]  # fmt: skip
    stat = summary.paired_difference(a, b, "maj1")
    assert stat["num_problems"] == 3 and stat["mean"] == pytest.approx(2 / 3)
    half = metrics.Z95 * math.sqrt(1 / 3) / math.sqrt(3)  # diffs 1, 0, 1: sd sqrt(1/3)
    assert stat["ci95_high"] - stat["mean"] == pytest.approx(half)
    assert summary.paired_difference(b, a, "maj1")["mean"] == pytest.approx(-2 / 3)
    with pytest.raises(ValueError, match="no problem"):
        summary.paired_difference(a, b, "scr4")
