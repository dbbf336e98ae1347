"""Metrics on hand-computed examples and against brute-force definitions of the tie rule."""

import itertools
import math
import random

import numpy as np
import pytest

from mathft_jax.evaluation import metrics


def test_pass_at_k_matches_brute_force_and_guards_k():
    for n in range(1, 7):
        for c in range(n + 1):
            correct = [True] * c + [False] * (n - c)
            for k in range(1, n + 1):
                subsets = list(itertools.combinations(correct, k))
                brute = sum(any(s) for s in subsets) / len(subsets)
                assert metrics.pass_at_k(n, c, k) == pytest.approx(brute, abs=1e-12)
    with pytest.raises(ValueError, match="k=5 with only n=4"):
        metrics.pass_at_k(4, 1, 5)


def test_majority_hand_examples():
    # counts 2, 2, 1; the correct cluster is one of the two tied at the top.
    assignment, correct = [0, 0, 1, 1, 2, -1], [False, True, False]
    assert metrics.maj_at_k(assignment, correct, 1) == 0.5
    assert metrics.maj_at_k(assignment, correct, 2) == 1.0
    # Correct cluster is the smallest: found only once all three clusters count.
    assert metrics.maj_at_k(assignment, [False, False, True], 2) == 0.0
    assert metrics.maj_at_k(assignment, [False, False, True], 3) == 1.0
    # counts 3, 1, 1, 1 with a correct singleton: 1 of 3 tied drawn for K=2, 2 of 3 for K=3.
    assignment, correct = [0, 0, 0, 1, 2, 3], [False, False, True, False]
    assert metrics.maj_at_k(assignment, correct, 2) == pytest.approx(1 / 3)
    assert metrics.maj_at_k(assignment, correct, 3) == pytest.approx(2 / 3)
    # No answers at all: nothing to vote for.
    assert metrics.maj_at_k([-1, -1], [], 1) == 0.0


def test_rerank_weighted_and_scr_hand_examples():
    # Clusters: 0 (3 samples, wrong), 1 (2, correct), 2 (1, wrong).
    assignment = np.array([0, 0, 0, 1, 1, 2])
    correct = [False, True, False]
    scores = np.array([0.5, 0.4, 0.3, 0.2, 0.6, 0.9])
    m = metrics.problem_metrics(assignment, correct, [1, 2, 3], scores)
    assert m["mean_acc"] == pytest.approx(2 / 6)
    assert m["pass@n"] == 1.0
    assert m["maj1"] == 0.0
    assert m["rerank_all"] == 0.0  # 0.9 is cluster 2's
    assert m["scr1"] == 0.0 and m["cost_scr1"] == 3
    assert m["scr2"] == 1.0 and m["cost_scr2"] == 5  # best of clusters 0, 1 is 0.6
    assert m["scr3"] == 0.0 and m["cost_scr3"] == 6
    assert m["cost_rerank_all"] == 6
    # Weights 1.2, 0.8, 0.9: the wrong majority wins; with cluster 1 at 1.2 too, a tie: 0.5.
    assert m["weighted_vote"] == 0.0
    tied = np.array([0.5, 0.4, 0.3, 0.6, 0.6, 0.9])
    assert metrics.weighted_vote(assignment, np.array(correct), tied) == 0.5
    # Sample-level tie in re-ranking: two top samples, one correct.
    assert metrics.rerank(np.array([0.9, 0.9, 0.1]), np.array([True, False, True])) == 0.5


def test_scr_tied_cluster_draw():
    # counts 2, 1, 1; SCR-2 draws one of clusters 1, 2: 1 wins with 0.8 (correct), 2 with 0.5.
    assignment, correct = [0, 0, 1, 2], [False, True, False]
    value, cost = metrics.scr_at_k(assignment, correct, np.array([0.1, 0.2, 0.8, 0.5]), 2)
    assert value == pytest.approx(0.5)
    assert cost == pytest.approx(3.0)


def _brute_rank(assignment, correct, scores, k):
    """Definition of the tie rule: average over every ordering of clusters (stable sort by
    count picks the top K), then over samples tied at the top verifier score."""
    present = sorted(set(a for a in assignment if a >= 0))
    counts = {c: sum(a == c for a in assignment) for c in present}
    maj, scr, cost = [], [], []
    for order in itertools.permutations(present):
        top = sorted(order, key=lambda c: -counts[c])[:k]
        maj.append(any(correct[c] for c in top))
        idx = [i for i, a in enumerate(assignment) if a in top]
        best = max(scores[i] for i in idx)
        scr.append(np.mean([correct[assignment[i]] for i in idx if scores[i] == best]))
        cost.append(len(idx))
    return np.mean(maj), np.mean(scr), np.mean(cost)


def test_maj_and_scr_match_brute_force_with_ties():
    rng = random.Random(0)
    for _ in range(300):
        num_clusters = rng.randint(1, 5)
        n = rng.randint(1, 9)
        assignment = [rng.randint(-1, num_clusters - 1) for _ in range(n)]
        if all(a < 0 for a in assignment):
            continue
        correct = [rng.random() < 0.4 for _ in range(num_clusters)]
        scores = np.array([rng.choice([0.1, 0.5, 0.9]) for _ in range(n)])  # many ties
        for k in (1, 2, 3):
            maj, scr, cost = _brute_rank(assignment, correct, scores, k)
            assert metrics.maj_at_k(assignment, correct, k) == pytest.approx(maj)
            value, expected_cost = metrics.scr_at_k(np.array(assignment), correct, scores, k)
            assert value == pytest.approx(scr), (assignment, correct, scores.tolist(), k)
            assert expected_cost == pytest.approx(cost)


def test_subset_averaging():
    assignment = [0] * 3 + [1] * 5 + [-1] * 2  # 3 correct of 10
    correct = [True, False]
    full = metrics.subset_metrics(assignment, correct, 10, [1], None, 5, np.random.default_rng(0))
    assert full == metrics.problem_metrics(assignment, correct, [1])
    one = metrics.subset_metrics(assignment, correct, 1, [1], None, 4000, np.random.default_rng(1))
    assert one["maj1"] == pytest.approx(0.3, abs=0.03)  # Maj1@1 is one sample's accuracy
    two = metrics.subset_metrics(assignment, correct, 2, [1], None, 4000, np.random.default_rng(1))
    assert two["pass@n"] == pytest.approx(metrics.pass_at_k(10, 3, 2), abs=0.03)
    again = metrics.subset_metrics(
        assignment, correct, 2, [1], None, 4000, np.random.default_rng(1)
    )
    assert again == two
    with pytest.raises(ValueError, match="pool size 10"):
        metrics.subset_metrics(assignment, correct, 11, [1], None, 5, np.random.default_rng(0))
    # Few enough subsets (10 of size 1, 45 of size 2 <= 100): all of them, so exact values.
    exact1 = metrics.subset_metrics(
        assignment, correct, 1, [1], None, 100, np.random.default_rng(5)
    )
    assert exact1["maj1"] == pytest.approx(0.3, abs=1e-12)
    exact2 = metrics.subset_metrics(
        assignment, correct, 2, [1], None, 100, np.random.default_rng(5)
    )
    assert exact2["pass@n"] == pytest.approx(metrics.pass_at_k(10, 3, 2), abs=1e-12)


def test_mean_ci():
    stat = metrics.mean_ci([0.2, 0.4, 0.6, 0.8])
    half = 1.959963984540054 * math.sqrt(0.2 / 3) / 2
    assert stat["mean"] == pytest.approx(0.5)
    assert stat["ci95_low"] == pytest.approx(0.5 - half)
    assert stat["ci95_high"] == pytest.approx(0.5 + half)
    assert metrics.mean_ci([0.7])["ci95_low"] is None
    assert metrics.mean_ci([1.0, 1.0, 0.9])["ci95_high"] == 1.0  # clipped
    assert metrics.mean_ci([1.0, 1.0, 0.9], clip01=False)["ci95_high"] > 1.0
