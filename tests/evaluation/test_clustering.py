"""Clustering: equivalent forms merge, no answer votes for nothing, only representatives compared."""

import random

from eval_fakes import fake_canon

from mathft_jax.evaluation.clustering import (
    cluster_answers,
    cluster_correctness,
    naive_cluster_answers,
)


def test_equivalent_forms_merge_and_none_votes_for_nothing(counting):
    answers = ["14/3", None, "\\frac{14}{3}", "5", "East", "east", "  ", "\\dfrac{14}{3}"]
    result = cluster_answers(answers, counting.equiv, fake_canon)
    assert result.assignment == (0, -1, 0, 1, 2, 2, -1, 0)
    assert [c.representative for c in result.clusters] == ["14/3", "5", "East"]
    assert [c.members for c in result.clusters] == [(0, 2, 7), (3,), (4, 5)]


def test_only_representatives_are_compared_and_repeats_cost_nothing(counting):
    answers = ["1", "2", "3", "1", "2", "3", "3/1", "\\frac{3}{1}", " 3 / 1"]
    result = cluster_answers(answers, counting.equiv, fake_canon)
    reps = {c.representative for c in result.clusters}
    assert reps == {"1", "2", "3"}
    # Every left-hand argument is a representative; repeats and equal canonical forms add no call.
    assert all(a in reps for a, _ in counting.calls)
    # "2" vs "1"; "3" vs "1", "2"; "3/1" vs "1", "2", "3" (found). "\frac{3}{1}" is new: 3 more.
    # " 3 / 1" has the canonical form of "3/1": hashed, no call.
    assert result.num_equiv_calls == len(counting.calls) == 1 + 2 + 3 + 3
    assert result.assignment == (0, 1, 2, 0, 1, 2, 2, 2, 2)


def test_deterministic_and_same_partition_as_naive(counting):
    rng = random.Random(0)
    pool = ["1/2", "\\frac{1}{2}", "0.5", "2", "East", "east", None, "x+1", "\\dfrac{1}{2}"]
    for _ in range(20):
        answers = [rng.choice(pool) for _ in range(12)]
        first = cluster_answers(answers, counting.equiv, fake_canon)
        again = cluster_answers(answers, counting.equiv, fake_canon)
        assert first == again
        assert first.assignment == naive_cluster_answers(answers, counting.equiv)


def test_correctness_once_per_cluster(counting):
    result = cluster_answers(["east", "East", "west", None], counting.equiv, fake_canon)
    counting.calls.clear()
    assert cluster_correctness("east", result, counting.equiv, fake_canon) == (True, False)
    # Cluster "east" matched by canonical form; only "west" needed a call.
    assert counting.calls == [("east", "west")]


def test_plain_numbers_join_by_value_and_are_compared_only_with_non_numbers(counting):
    """Stage 3: two different plain numbers are never equivalent, so with a value key a number
    costs calls only against representatives that are not numbers; clusters stay the same."""
    from mathft_jax.evaluation.clustering import default_value_key

    answers = ["1", "2", "x", "3", "0.5", "\\frac{1}{2}", "3.0", "x"]
    plain = cluster_answers(answers, counting.equiv, fake_canon)
    counting.calls.clear()
    keyed = cluster_answers(answers, counting.equiv, fake_canon, default_value_key())
    assert keyed.assignment == plain.assignment == (0, 1, 2, 3, 4, 4, 3, 2)
    # Each new number is compared with "x" only: "3", "0.5" one call each; "\frac{1}{2}" and
    # "3.0" find their value (1/2, 3) hashed. "x" itself was compared with "1" and "2".
    assert keyed.num_equiv_calls == 2 + 1 + 1 < plain.num_equiv_calls
