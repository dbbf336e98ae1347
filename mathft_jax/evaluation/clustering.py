"""Solution clusters: group one problem's sampled answers by mathematical equivalence.

The paper's SCR and majority voting both rank clusters of equal final answers. Comparing every pair
of N answers with the symbolic `is_equiv` costs O(N^2) slow calls, so clustering here is staged:
  1. each distinct answer string is canonicalised once (`canonical_form`, cheap);
  2. answers with equal canonical forms join the same cluster by hashing, no `is_equiv` call;
  3. a canonical form that is a plain number (`value_key`: `0.5`, `\\frac{1}{2}` -> "1/2") joins the
     cluster of the same number by hashing; two different plain numbers are never equivalent, so
     a number is compared only with representatives that are not plain numbers;
  4. any other new canonical form is compared with `is_equiv` against cluster *representatives*
     only (the first answer of each cluster), in cluster-creation order; the first match wins.
Samples with no extractable answer (None or blank) join no cluster and vote for nothing.
The result depends only on the order of `answers`, so it is deterministic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from mathft_jax.candidates import has_answer

EquivFn = Callable[[str, str], bool]
CanonFn = Callable[[str], str]
KeyFn = Callable[[str], str | None]


@dataclasses.dataclass(frozen=True)
class Cluster:
    """Samples whose answers are equivalent; `representative` is the cluster's first answer."""

    representative: str
    canonical: str
    members: tuple[int, ...]  # sample indices, ascending

    @property
    def size(self) -> int:
        return len(self.members)


@dataclasses.dataclass(frozen=True)
class Clustering:
    """Clusters of one problem plus, per sample, its cluster index (-1: no answer)."""

    clusters: tuple[Cluster, ...]
    assignment: tuple[int, ...]  # [num_samples]
    num_equiv_calls: int


def _grading_fns() -> tuple[EquivFn, CanonFn]:
    # Imported lazily so this module (and its tests, with fakes) loads without the grading package.
    from mathft_jax import grading

    return grading.is_equiv, grading.canonical_form


def default_value_key() -> KeyFn:
    """`number_key` of a canonical form: the exact value of a plain number, else None. `is_equiv`
    compares two plain numbers by exactly this key, so hashing on it changes no cluster."""
    from mathft_jax.grading.normalize import number_key

    return number_key


def cluster_answers(
    answers: Sequence[str | None],
    equiv: EquivFn | None = None,
    canon: CanonFn | None = None,
    value_key: KeyFn | None = None,
) -> Clustering:
    """Groups answers into equivalence clusters (see module docstring for the algorithm).

    Args:
      answers: one extracted final answer per sample, None where none was found.
      equiv: `is_equiv(a, b)`; defaults to `mathft_jax.grading.is_equiv`.
      canon: `canonical_form(a)`; defaults to `mathft_jax.grading.canonical_form`.
      value_key: the exact value of a canonical plain number, else None (stage 3); None skips
        that stage (`default_value_key()` is what the evaluate job uses).

    Returns:
      Clusters in order of first occurrence, each sample's cluster index, and how many `equiv`
      calls were made (for benchmarks and tests).

    Example: ["14/3", None, "\\frac{14}{3}", "5"] gives clusters (0, 2) and (3,), assignment
    (0, -1, 0, 1), with one `equiv` call if both fractions canonicalise alike and two if not.
    """
    if equiv is None or canon is None:
        default_equiv, default_canon = _grading_fns()
        equiv = equiv or default_equiv
        canon = canon or default_canon
    by_string: dict[str, int] = {}  # distinct answer string -> cluster index
    by_canonical: dict[str, int] = {}  # canonical form -> cluster index
    by_value: dict[str, int] = {}  # plain number's value -> cluster index
    not_numbers: list[int] = []  # clusters whose representative is not a plain number
    reps: list[str] = []
    canonicals: list[str] = []
    members: list[list[int]] = []
    assignment: list[int] = []
    calls = 0
    for i, answer in enumerate(answers):
        if not has_answer(answer):
            assignment.append(-1)
            continue
        cluster = by_string.get(answer)
        if cluster is None:
            form = canon(answer)
            cluster = by_canonical.get(form)
            if cluster is None:
                value = value_key(form) if value_key is not None else None
                if value is not None:
                    cluster = by_value.get(value)
                if cluster is None:
                    for j in not_numbers if value is not None else range(len(reps)):
                        calls += 1
                        if equiv(reps[j], answer):
                            cluster = j
                            break
                if cluster is None:
                    cluster = len(reps)
                    reps.append(answer)
                    canonicals.append(form)
                    members.append([])
                    if value is None:
                        not_numbers.append(cluster)
                if value is not None:
                    by_value.setdefault(value, cluster)
                by_canonical[form] = cluster
            by_string[answer] = cluster
        members[cluster].append(i)
        assignment.append(cluster)
    clusters = tuple(
        Cluster(representative=r, canonical=c, members=tuple(m))
        for r, c, m in zip(reps, canonicals, members)
    )
    return Clustering(clusters=clusters, assignment=tuple(assignment), num_equiv_calls=calls)


def cluster_correctness(
    ground_truth: str,
    clustering: Clustering,
    equiv: EquivFn | None = None,
    canon: CanonFn | None = None,
) -> tuple[bool, ...]:
    """Whether each cluster is correct: `is_equiv(ground_truth, representative)`, once per cluster.

    A cluster whose canonical form equals the ground truth's is correct without a symbolic call.
    """
    if equiv is None or canon is None:
        default_equiv, default_canon = _grading_fns()
        equiv = equiv or default_equiv
        canon = canon or default_canon
    truth_form = canon(ground_truth)
    return tuple(
        c.canonical == truth_form or bool(equiv(ground_truth, c.representative))
        for c in clustering.clusters
    )


def naive_cluster_answers(answers: Sequence[str | None], equiv: EquivFn) -> tuple[int, ...]:
    """Baseline for the benchmark: call `equiv` on every pair of answered samples, then union-find.

    No canonical hashing and no representatives: N(N-1)/2 calls. With a transitive `equiv` this
    gives the same partition as `cluster_answers`. Returns the assignment only, clusters numbered
    in order of first occurrence (-1: no answer).
    """
    answered = [i for i, a in enumerate(answers) if has_answer(a)]
    parent = {i: i for i in answered}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for x, i in enumerate(answered):
        for j in answered[x + 1 :]:
            if equiv(answers[i], answers[j]):  # type: ignore[arg-type]
                ri, rj = root(i), root(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    numbering: dict[int, int] = {}
    assignment = []
    for i, answer in enumerate(answers):
        if not has_answer(answer):
            assignment.append(-1)
            continue
        assignment.append(numbering.setdefault(root(i), len(numbering)))
    return tuple(assignment)
