"""Per-problem metrics on graded, clustered samples, and their average over seeded subsets.

Inputs per problem: `assignment[i]` (sample i's cluster, -1 for no answer), `cluster_correct[c]`
(is_equiv(ground truth, representative of c)) and optional verifier `scores[i]`. A sample is
correct iff its cluster is; a sample with no answer is wrong.

Tie rule, used everywhere: ties are broken uniformly at random and we report the *expected*
accuracy under that choice, computed exactly (no sampling). So Maj1@N with two top clusters of 5
votes, one correct, scores 0.5; MajK@N picks the K largest clusters with the clusters tied at the
K-th count drawn at random; re-ranking picks uniformly among samples with the top verifier score.

Metric names (keys of the dicts returned by `problem_metrics`):
  mean_acc      fraction of correct samples (the unbiased pass@1 estimate)
  pass@n        some sample is correct
  maj{k}        MajK@N: a correct cluster is among the K largest clusters (maj1 = Maj1@N)
  rerank_all    the sample with the highest verifier score, among all N, is correct
  scr{k}        SCR-K: the highest-scored sample among the samples of the top-K clusters is correct
  weighted_vote the cluster with the largest sum of verifier scores is correct
  cost_rerank_all, cost_scr{k}  samples the verifier must score (expected, under the tie rule).
SCR scores every sample of the top-K clusters (the paper's procedure), not one per distinct answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k), in the stable product form."""
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_k: need 0 <= c <= n, got n={n}, c={c}")
    if k < 1 or k > n:
        raise ValueError(f"pass_at_k: need 1 <= k <= n, got k={k} with only n={n} samples")
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def sample_correct(assignment: np.ndarray, cluster_correct: np.ndarray) -> np.ndarray:
    """Per-sample correctness: the sample's cluster is correct; no answer is wrong."""
    assignment = np.asarray(assignment)
    correct = np.asarray(cluster_correct, dtype=bool)
    out = np.zeros(assignment.shape, dtype=bool)
    answered = assignment >= 0
    out[answered] = correct[assignment[answered]]
    return out


def _counts(assignment: np.ndarray, num_clusters: int) -> np.ndarray:
    answered = assignment[assignment >= 0]
    return np.bincount(answered, minlength=num_clusters)


def top_k_split(counts: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The top-K clusters by count under the random tie rule.

    Returns (sure, tied, r): clusters surely in the top K, the clusters tied at the K-th count,
    and how many of the tied ones are drawn (uniformly). With fewer than K non-empty clusters all
    are sure and r = 0.
    """
    present = np.flatnonzero(counts > 0)
    if len(present) <= k:
        return present, np.array([], dtype=int), 0
    threshold = np.sort(counts[present])[::-1][k - 1]
    sure = present[counts[present] > threshold]
    tied = present[counts[present] == threshold]
    return sure, tied, k - len(sure)


def _hit_probability(m: int, correct: int, r: int) -> float:
    """P(at least one of `correct` marked items among r drawn uniformly from m)."""
    if r <= 0 or correct <= 0:
        return 0.0
    return 1.0 - math.comb(m - correct, r) / math.comb(m, r)


def maj_at_k(assignment: np.ndarray, cluster_correct: np.ndarray, k: int) -> float:
    """MajK@N: a correct cluster is among the K most frequent clusters (expected, tie rule)."""
    correct = np.asarray(cluster_correct, dtype=bool)
    sure, tied, r = top_k_split(_counts(np.asarray(assignment), len(correct)), k)
    if correct[sure].any():
        return 1.0
    return _hit_probability(len(tied), int(correct[tied].sum()), r)


def rerank(scores: np.ndarray, correct: np.ndarray) -> float:
    """Best-of-N by verifier: accuracy of the top-scored sample, ties averaged."""
    if len(scores) == 0:
        return 0.0
    top = scores == scores.max()
    return float(correct[top].mean())


def weighted_vote(assignment: np.ndarray, cluster_correct: np.ndarray, scores: np.ndarray) -> float:
    """Verifier-weighted voting: the cluster with the largest sum of scores (ties averaged).

    Sums equal to 1e-12 (relative) count as tied, so summation order cannot split a tie.
    """
    correct = np.asarray(cluster_correct, dtype=bool)
    answered = assignment >= 0
    if not answered.any():
        return 0.0
    present = np.flatnonzero(_counts(assignment, len(correct)) > 0)
    sums = np.bincount(assignment[answered], weights=scores[answered], minlength=len(correct))
    weights = sums[present]
    top = weights.max()
    best = present[weights >= top - 1e-12 * max(1.0, abs(top))]
    return float(correct[best].mean())


def _cluster_best(
    assignment: np.ndarray, scores: np.ndarray, clusters: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster in `clusters`: its best score and how many of its samples reach it."""
    answered = assignment >= 0
    ids, vals = assignment[answered], scores[answered]
    size = int(ids.max()) + 1
    best = np.full(size, -np.inf)
    np.maximum.at(best, ids, vals)
    ties = np.bincount(ids[vals == best[ids]], minlength=size)
    return best[clusters], ties[clusters]


def scr_at_k(
    assignment: np.ndarray, cluster_correct: np.ndarray, scores: np.ndarray, k: int
) -> tuple[float, float]:
    """SCR-K: re-rank only the samples of the top-K clusters. Returns (accuracy, samples scored).

    Exact expectation over the random choice of the clusters tied at the K-th count and over
    ties in verifier score. Only each cluster's best score matters: walk the distinct best
    scores downwards; at each level, the drawn subset of tied clusters either contains a cluster
    reaching it (stop) or does not (go lower, knowing those clusters were not drawn).
    """
    assignment = np.asarray(assignment)
    correct = np.asarray(cluster_correct, dtype=bool)
    counts = _counts(assignment, len(correct))
    sure, tied, r = top_k_split(counts, k)
    cost = float(counts[sure].sum()) + (r / len(tied) * float(counts[tied].sum()) if r else 0.0)
    if len(sure) + len(tied) == 0:
        return 0.0, 0.0
    if r == 0:
        tied = np.array([], dtype=int)
    clusters = np.concatenate([sure, tied])
    best, ties = _cluster_best(assignment, scores, clusters)
    is_sure = np.arange(len(clusters)) < len(sure)
    remaining = len(tied)  # tied clusters not yet known to be undrawn
    reach = 1.0  # P(no drawn cluster reaches a higher level)
    total = 0.0
    for level in np.unique(best)[::-1]:
        if reach == 0.0:  # some drawn cluster surely reached a higher level
            break
        at = best == level
        sure_t = int(ties[at & is_sure].sum())
        sure_c = int((ties * correct[clusters])[at & is_sure].sum())
        tied_at = np.flatnonzero(at & ~is_sure)
        # Distribution of (drawn count x, sum ties, sum correct ties) over subsets of tied_at.
        states: dict[tuple[int, int, int], int] = {(0, 0, 0): 1}
        for j in tied_at:
            t, c = int(ties[j]), int(ties[j]) * int(correct[clusters[j]])
            nxt = dict(states)
            for (x, st, sc), ways in states.items():
                key = (x + 1, st + t, sc + c)
                nxt[key] = nxt.get(key, 0) + ways
            states = nxt
        denom = math.comb(remaining, r)
        rest = remaining - len(tied_at)
        for (x, st, sc), ways in states.items():
            if sure_t + st == 0:
                continue
            p = ways * math.comb(rest, r - x) / denom if r >= x else 0.0
            total += reach * p * (sure_c + sc) / (sure_t + st)
        if sure_t:
            break
        reach *= math.comb(rest, r) / denom
        remaining = rest
    return total, cost


def problem_metrics(
    assignment: Sequence[int],
    cluster_correct: Sequence[bool],
    ks: Sequence[int],
    scores: Sequence[float] | None = None,
) -> dict[str, float]:
    """Every metric for one problem on one set of samples (see the module docstring)."""
    assignment = np.asarray(assignment, dtype=int)
    cluster_correct = np.asarray(cluster_correct, dtype=bool)
    correct = sample_correct(assignment, cluster_correct)
    out = {
        "mean_acc": float(correct.mean()) if len(correct) else 0.0,
        "pass@n": float(correct.any()),
    }
    for k in ks:
        out[f"maj{k}"] = maj_at_k(assignment, cluster_correct, k)
    if scores is not None:
        scores = np.asarray(scores, dtype=float)
        out["rerank_all"] = rerank(scores, correct)
        out["cost_rerank_all"] = float(len(scores))
        out["weighted_vote"] = weighted_vote(assignment, cluster_correct, scores)
        for k in ks:
            out[f"scr{k}"], out[f"cost_scr{k}"] = scr_at_k(assignment, cluster_correct, scores, k)
    return out


def subset_metrics(
    assignment: Sequence[int],
    cluster_correct: Sequence[bool],
    n: int,
    ks: Sequence[int],
    scores: Sequence[float] | None,
    num_subsets: int,
    rng: np.random.Generator,
) -> dict[str, float]:
    """Metrics at N = n, averaged over `num_subsets` random n-subsets (the pool itself if n = N).

    A subset keeps the full pool's clusters restricted to its samples (no re-clustering).
    """
    assignment = np.asarray(assignment, dtype=int)
    pool = len(assignment)
    if not 1 <= n <= pool:
        raise ValueError(f"subset size n={n} must be between 1 and the pool size {pool}")
    if n == pool:
        return problem_metrics(assignment, cluster_correct, ks, scores)
    score_arr = None if scores is None else np.asarray(scores, dtype=float)
    totals: dict[str, float] = {}
    for _ in range(num_subsets):
        idx = np.sort(rng.choice(pool, size=n, replace=False))
        m = problem_metrics(
            assignment[idx], cluster_correct, ks, None if score_arr is None else score_arr[idx]
        )
        for key, value in m.items():
            totals[key] = totals.get(key, 0.0) + value
    return {key: value / num_subsets for key, value in totals.items()}


def mean_ci(values: Sequence[float], clip01: bool = True) -> dict[str, float | None]:
    """Mean over problems and its 95% CI (normal approximation; none for one problem)."""
    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean())
    if len(arr) < 2:
        return {"mean": mean, "ci95_low": None, "ci95_high": None}
    half = Z95 * float(arr.std(ddof=1)) / math.sqrt(len(arr))
    low, high = mean - half, mean + half
    if clip01:
        low, high = max(0.0, low), min(1.0, high)
    return {"mean": mean, "ci95_low": low, "ci95_high": high}
