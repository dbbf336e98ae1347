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
`within_auc` (not in those dicts: undefined on problems whose samples are all right or all wrong)
is the verifier's AUC among one problem's samples; `summary` averages it over the problems where
it is defined.
SCR scores every sample of the top-K clusters (the paper's procedure), not one per distinct answer.
Samples without an answer are scored by re-rank-all (and are wrong if picked) but never by SCR.
SCR-1 equals Maj1@N: correctness is per cluster, so re-ranking inside one cluster cannot change it.
"""

from __future__ import annotations

import dataclasses
import itertools
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


def sample_correct(assignment: Sequence[int], cluster_correct: Sequence[bool]) -> np.ndarray:
    """Per-sample correctness: the sample's cluster is correct; no answer is wrong."""
    return np.array([a >= 0 and bool(cluster_correct[a]) for a in assignment], dtype=bool)


@dataclasses.dataclass
class _Table:
    """What the metrics need from one set of samples, per present cluster (pure Python: these
    sets are small and are built thousands of times per problem, where NumPy's call overhead
    dominates)."""

    counts: dict[int, int]
    best: dict[int, float]  # highest verifier score in the cluster
    ties: dict[int, int]  # how many of its samples reach it
    sums: dict[int, float]  # sum of its verifier scores


def _table(assignment: Sequence[int], scores: Sequence[float] | None) -> _Table:
    counts: dict[int, int] = {}
    best: dict[int, float] = {}
    ties: dict[int, int] = {}
    sums: dict[int, float] = {}
    for i, a in enumerate(assignment):
        if a < 0:
            continue
        counts[a] = counts.get(a, 0) + 1
        if scores is None:
            continue
        s = float(scores[i])
        sums[a] = sums.get(a, 0.0) + s
        b = best.get(a)
        if b is None or s > b:
            best[a], ties[a] = s, 1
        elif s == b:
            ties[a] += 1
    return _Table(counts, best, ties, sums)


def top_k_split(counts: dict[int, int], k: int) -> tuple[list[int], list[int], int]:
    """The top-K clusters by count under the random tie rule.

    Args:
      counts: samples per present cluster.
    Returns (sure, tied, r): clusters surely in the top K, the clusters tied at the K-th count,
    and how many of the tied ones are drawn (uniformly). With at most K clusters all are sure
    and r = 0.
    """
    present = sorted(counts)
    if len(present) <= k:
        return present, [], 0
    threshold = sorted(counts.values(), reverse=True)[k - 1]
    sure = [c for c in present if counts[c] > threshold]
    tied = [c for c in present if counts[c] == threshold]
    return sure, tied, k - len(sure)


def _hit_probability(m: int, correct: int, r: int) -> float:
    """P(at least one of `correct` marked items among r drawn uniformly from m)."""
    if r <= 0 or correct <= 0:
        return 0.0
    return 1.0 - math.comb(m - correct, r) / math.comb(m, r)


def _maj(table: _Table, correct: Sequence[bool], k: int) -> float:
    sure, tied, r = top_k_split(table.counts, k)
    if any(correct[c] for c in sure):
        return 1.0
    return _hit_probability(len(tied), sum(bool(correct[c]) for c in tied), r)


def maj_at_k(assignment: Sequence[int], cluster_correct: Sequence[bool], k: int) -> float:
    """MajK@N: a correct cluster is among the K most frequent clusters (expected, tie rule)."""
    return _maj(_table(assignment, None), cluster_correct, k)


def rerank(scores: Sequence[float], correct: Sequence[bool]) -> float:
    """Best-of-N by verifier: accuracy of the top-scored sample, ties averaged."""
    if len(scores) == 0:
        return 0.0
    top = max(scores)
    hits = [bool(c) for s, c in zip(scores, correct) if s == top]
    return sum(hits) / len(hits)


def _weighted(table: _Table, correct: Sequence[bool]) -> float:
    if not table.sums:
        return 0.0
    top = max(table.sums.values())
    tol = 1e-12 * max(1.0, abs(top))
    best = [c for c, w in table.sums.items() if w >= top - tol]
    return sum(bool(correct[c]) for c in best) / len(best)


def weighted_vote(
    assignment: Sequence[int], cluster_correct: Sequence[bool], scores: Sequence[float]
) -> float:
    """Verifier-weighted voting: the cluster with the largest sum of scores (ties averaged).

    Sums equal to 1e-12 (relative) count as tied, so summation order cannot split a tie.
    """
    return _weighted(_table(assignment, scores), cluster_correct)


def _scr(table: _Table, correct: Sequence[bool], k: int) -> tuple[float, float]:
    counts = table.counts
    sure, tied, r = top_k_split(counts, k)
    if not sure and not tied:
        return 0.0, 0.0
    cost = float(sum(counts[c] for c in sure))
    if r:
        cost += r / len(tied) * sum(counts[c] for c in tied)
    else:
        tied = []
    sure_set = set(sure)
    levels: dict[float, list[int]] = {}
    for c in (*sure, *tied):
        levels.setdefault(table.best[c], []).append(c)
    remaining = len(tied)  # tied clusters not yet known to be undrawn
    reach = 1.0  # P(no drawn cluster reaches a higher level)
    total = 0.0
    for level in sorted(levels, reverse=True):
        if reach == 0.0:  # some drawn cluster surely reached a higher level
            break
        at = levels[level]
        sure_t = sum(table.ties[c] for c in at if c in sure_set)
        sure_c = sum(table.ties[c] for c in at if c in sure_set and correct[c])
        tied_at = [c for c in at if c not in sure_set]
        # Subsets of tied_at by (drawn count, samples at the level, correct ones): ways.
        states: dict[tuple[int, int, int], int] = {(0, 0, 0): 1}
        for c in tied_at:
            t = table.ties[c]
            tc = t if correct[c] else 0
            nxt = dict(states)
            for (x, st, sc), ways in states.items():
                key = (x + 1, st + t, sc + tc)
                nxt[key] = nxt.get(key, 0) + ways
            states = nxt
        denom = math.comb(remaining, r)
        rest = remaining - len(tied_at)
        for (x, st, sc), ways in states.items():
            if sure_t + st == 0 or x > r:
                continue
            p = ways * math.comb(rest, r - x) / denom
            total += reach * p * (sure_c + sc) / (sure_t + st)
        if sure_t:
            break
        reach *= math.comb(rest, r) / denom
        remaining = rest
    return total, cost


def scr_at_k(
    assignment: Sequence[int], cluster_correct: Sequence[bool], scores: Sequence[float], k: int
) -> tuple[float, float]:
    """SCR-K: re-rank only the samples of the top-K clusters. Returns (accuracy, samples scored).

    Exact expectation over the random choice of the clusters tied at the K-th count and over
    ties in verifier score. The chosen sample's correctness is its cluster's, so only each
    cluster's best score matters: walk the distinct best scores downwards; at each level, the
    drawn subset of tied clusters either contains a cluster reaching it (stop) or does not (go
    lower, knowing those clusters were not drawn).
    """
    return _scr(_table(assignment, scores), cluster_correct, k)


def within_auc(scores: Sequence[float], correct: Sequence[bool]) -> float | None:
    """AUC of verifier scores inside one problem: P(a correct sample outscores a wrong one), ties
    counting half (Mann-Whitney). None when the problem has no correct or no wrong sample."""
    pos = [float(s) for s, c in zip(scores, correct) if c]
    neg = [float(s) for s, c in zip(scores, correct) if not c]
    if not pos or not neg:
        return None
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def problem_metrics(
    assignment: Sequence[int],
    cluster_correct: Sequence[bool],
    ks: Sequence[int],
    scores: Sequence[float] | None = None,
) -> dict[str, float]:
    """Every metric for one problem on one set of samples (see the module docstring)."""
    assignment = [int(a) for a in assignment]
    correct = [bool(c) for c in cluster_correct]
    scores = None if scores is None else [float(s) for s in scores]
    table = _table(assignment, scores)
    num_correct = sum(table.counts[c] for c in table.counts if correct[c])
    out = {
        "mean_acc": num_correct / len(assignment) if assignment else 0.0,
        "pass@n": float(num_correct > 0),
    }
    for k in ks:
        out[f"maj{k}"] = _maj(table, correct, k)
    if scores is not None:
        out["rerank_all"] = rerank(scores, [a >= 0 and correct[a] for a in assignment])
        out["cost_rerank_all"] = float(len(scores))
        out["weighted_vote"] = _weighted(table, correct)
        for k in ks:
            out[f"scr{k}"], out[f"cost_scr{k}"] = _scr(table, correct, k)
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

    When the pool has at most `num_subsets` n-subsets (n = 1 or n = N - 1, say), all of them are
    used once instead: the exact mean over subsets. A subset keeps the full pool's clusters
    restricted to its samples (no re-clustering).
    """
    assignment = np.asarray(assignment, dtype=int)
    pool = len(assignment)
    if not 1 <= n <= pool:
        raise ValueError(f"subset size n={n} must be between 1 and the pool size {pool}")
    if n == pool:
        return problem_metrics(assignment, cluster_correct, ks, scores)
    score_arr = None if scores is None else np.asarray(scores, dtype=float)
    if math.comb(pool, n) <= num_subsets:
        subsets = np.asarray(list(itertools.combinations(range(pool), n)), dtype=int)
    else:
        # [num_subsets, n]: each row a uniform n-subset (first n of a random permutation), sorted.
        subsets = np.sort(np.argsort(rng.random((num_subsets, pool)), axis=1)[:, :n], axis=1)
    totals: dict[str, float] = {}
    for idx in subsets:
        m = problem_metrics(
            assignment[idx].tolist(),
            cluster_correct,
            ks,
            None if score_arr is None else score_arr[idx].tolist(),
        )
        for key, value in m.items():
            totals[key] = totals.get(key, 0.0) + value
    return {key: value / len(subsets) for key, value in totals.items()}


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
