"""The trainer's validation hook: greedy Pass@1 graded with is_equiv."""

import decode_fakes as fakes
import pytest

from mathft_jax.inference import generation, hooks
from mathft_jax.inference.decoding import DecodeConfig
from mathft_jax.inference.sampling import SamplingConfig

grading = pytest.importorskip("mathft_jax.grading")
if not hasattr(grading, "is_equiv"):
    pytest.skip("mathft_jax.grading.is_equiv has not landed", allow_module_level=True)

PROBLEMS = [
    fakes.Problem("a", "7?", "7"),  # right
    fakes.Problem("b", "3?", "\\frac{6}{2}"),  # right, by equivalence
    fakes.Problem("c", "5?", "4"),  # wrong
    fakes.Problem("d", "2?", "2"),  # right, but beyond num_problems
]
KWARGS = dict(
    model=fakes.scripted_model(),
    vocab=fakes.ByteVocab(),
    prompt_fn=lambda p: p,
    max_prompt_len=4,
    max_decode_len=20,
)


def test_scripted_model_answers_with_the_prompt_digit():
    texts = generation.generate(
        None,
        ["7?", "3?"],
        [0, 1],
        model=KWARGS["model"],
        vocab=KWARGS["vocab"],
        config=DecodeConfig(
            num_samples=1,
            max_decode_len=20,
            sampling=SamplingConfig(),
            include_greedy=True,
            batch_size=2,
            max_prompt_len=4,
            seed=0,
        ),
    )
    assert texts == [["so \\boxed{7}."] * 2, ["so \\boxed{3}."] * 2]


def test_greedy_pass_at_1_grades_with_is_equiv():
    hook = hooks.greedy_pass_at_1_hook(
        PROBLEMS, num_problems=3, sample="first", batch_size=2, **KWARGS
    )
    assert hook(None, 100) == {"greedy_pass_at_1": pytest.approx(2 / 3)}
    hook_all = hooks.greedy_pass_at_1_hook(PROBLEMS, num_problems=None, batch_size=2, **KWARGS)
    assert hook_all(None, 100) == {"greedy_pass_at_1": pytest.approx(3 / 4)}


def _math_like(n_algebra: int, n_geometry: int, n_counting: int) -> list:
    subjects = ["algebra"] * n_algebra + ["geometry"] * n_geometry + ["counting"] * n_counting
    return [fakes.Problem(f"train/{s}/{i}.json", f"{i}?", str(i)) for i, s in enumerate(subjects)]


def test_selection_sample_is_stratified_by_subject_and_seeded():
    # The first problems of MATH validation are mostly algebra; the sample keeps subject shares.
    items = _math_like(76, 16, 8)
    sample = hooks.stratified_sample(items, 25, seed=1)
    count = lambda subject: sum(hooks.subject_of(p.unique_id) == subject for p in sample)  # noqa: E731
    assert len(sample) == 25 and (count("algebra"), count("geometry"), count("counting")) == (
        19,
        4,
        2,
    )
    assert (
        sample
        == hooks.stratified_sample(items, 25, seed=1)
        != hooks.stratified_sample(items, 25, 2)
    )
    assert hooks.stratified_sample(items, None) == items == hooks.stratified_sample(items, 100)
    assert [items.index(p) for p in sample] == sorted(items.index(p) for p in sample)


def test_greedy_hook_samples_stratified_by_default():
    problems = [fakes.Problem(f"train/{s}/{i}.json", f"{i % 10}?", str(i % 10))
                for i, s in enumerate(["algebra"] * 6 + ["geometry"] * 2)]  # fmt: skip
    hook = hooks.greedy_pass_at_1_hook(problems, num_problems=4, batch_size=2, **KWARGS)
    first = hooks.greedy_pass_at_1_hook(
        problems, num_problems=4, sample="first", batch_size=2, **KWARGS
    )
    assert hook(None, 1) == {"greedy_pass_at_1": 1.0} == first(None, 1)
    with pytest.raises(ValueError, match="sample"):
        hooks.greedy_pass_at_1_hook(problems, sample="last", **KWARGS)


def test_within_problem_auc_counts_ties_half_and_skips_one_label_problems():
    scores = [([0.9, 0.5], [0.5, 0.1]), ([0.2], [0.8]), ([0.7], [])]
    # problem 1: pairs (0.9>0.5, 0.9>0.1, 0.5=0.5, 0.5>0.1) = 3.5/4; problem 2: 0/1.
    assert hooks.within_problem_auc(scores) == pytest.approx((3.5 / 4 + 0.0) / 2)
    assert hooks.within_problem_auc([([1.0], [])]) != hooks.within_problem_auc([([1.0], [])])


def test_verifier_ranking_hook_scores_each_problems_samples(monkeypatch):
    from mathft_jax.data.verifier_data import LabelledSolutions
    from mathft_jax.inference import scoring

    def fake_score_texts(params, pairs, **kw):
        assert kw["max_len"] == 64 and params == "p"
        return [float(params == "p") * (0.9 if s.startswith("good") else 0.1 if s.startswith("bad")
                                        else 0.95) for _, s in pairs]  # fmt: skip

    monkeypatch.setattr(scoring, "score_texts", fake_score_texts)
    labelled = [
        LabelledSolutions("train/algebra/1.json", "1?", ("good a", "good b"), ("bad a",)),
        LabelledSolutions("train/geometry/2.json", "2?", ("good c",), ("odd c", "bad d")),
        LabelledSolutions("train/geometry/3.json", "3?", ("good e",), ()),  # one label: skipped
    ]
    hook = hooks.verifier_ranking_hook(
        labelled, model=object(), vocab=object(), batch_size=3, max_len=64
    )
    # problem 1 ranks perfectly; problem 2: "odd c" (0.95) beats "good c", "bad d" does not.
    assert hook("p", 10) == {"within_problem_auc": pytest.approx((1.0 + 0.5) / 2)}
    none = hooks.verifier_ranking_hook(labelled[2:], model=object(), vocab=object())
    assert none("p", 10) == {"within_problem_auc": 0.5}  # undefined: chance, not a crash
