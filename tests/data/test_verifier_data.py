"""verifier_data: classification examples (natural and balanced), pairs."""

import collections

import pytest

from mathft_jax.data import verifier_data
from mathft_jax.data.verifier_data import LabelledSolutions

WORDS = ("correct", "incorrect")


def _problems() -> list[LabelledSolutions]:
    return [
        LabelledSolutions("a", "1+1?", ("2",), ("3", "4", "5", "6"), reference="1+1=2"),
        LabelledSolutions("b", "2+2?", ("4", "04", "4.0"), ("5",), reference="2+2=4"),
        LabelledSolutions("c", "3+3?", (), ("7", "8")),  # no correct sample
        LabelledSolutions("d", "4+4?", ("8",), ()),  # no incorrect sample
    ]


def _counts(examples) -> dict[tuple[str, str], int]:
    counts = collections.Counter()
    for ex in examples:
        problem = ex["inputs"].split("Here is a math problem: ")[1].split("\n")[0]
        counts[(problem, ex["targets"])] += 1
    return dict(counts)


def test_xent_natural_mix_caps_each_label():
    examples = verifier_data.xent_examples(_problems(), WORDS, max_per_problem=3)
    assert _counts(examples) == {
        ("1+1?", "correct"): 1,
        ("1+1?", "incorrect"): 3,
        ("2+2?", "correct"): 3,
        ("2+2?", "incorrect"): 1,
        ("3+3?", "incorrect"): 2,
        ("4+4?", "correct"): 1,
    }


def test_xent_balanced_equal_labels_per_problem():
    examples = verifier_data.xent_examples(_problems(), WORDS, max_per_problem=3, balance=True)
    # Problems with one label only are left out; the scarcer label is repeated up to the cap.
    assert _counts(examples) == {
        ("1+1?", "correct"): 3,
        ("1+1?", "incorrect"): 3,
        ("2+2?", "correct"): 3,
        ("2+2?", "incorrect"): 3,
    }
    texts = {
        ex["inputs"] for ex in examples if ex["inputs"].startswith("Here is a math problem: 1+1?")
    }
    assert any("candidate solution: 2\n" in t for t in texts)
    assert len([t for t in texts if "candidate solution: 2\n" not in t]) == 3  # 3 distinct wrong


def test_xent_balanced_uncapped_and_seeded():
    a = verifier_data.xent_examples(_problems(), WORDS, max_per_problem=None, balance=True, seed=1)
    b = verifier_data.xent_examples(_problems(), WORDS, max_per_problem=None, balance=True, seed=1)
    assert a == b
    counts = _counts(a)
    assert counts[("1+1?", "correct")] == counts[("1+1?", "incorrect")] == 4
    assert counts[("2+2?", "correct")] == counts[("2+2?", "incorrect")] == 3


def test_pairs_are_balanced_and_capped():
    pairs = verifier_data.verifier_pair_examples(_problems(), max_pairs_per_problem=2)
    assert len(pairs) == 4  # 2 per problem with both labels
    assert all(p["pos_targets"] == p["neg_targets"] for p in pairs)


def test_pair_gen_groups_are_the_reference_solution():
    # L_mle of Eq. 11 / 13 is Eq. 3 on the problem's reference solution, not a sampled one.
    for build in (verifier_data.verifier_pair_examples, verifier_data.contrastive_pair_examples):
        pairs = build(_problems(), max_pairs_per_problem=2)
        assert sorted({(p["gen_inputs"], p["gen_targets"]) for p in pairs}) == [
            ("Problem: 1+1?\nSolution: ", "1+1=2"),
            ("Problem: 2+2?\nSolution: ", "2+2=4"),
        ]
        with pytest.raises(ValueError, match="no reference solution"):
            build([LabelledSolutions("e", "5+5?", ("10",), ("11",))])
