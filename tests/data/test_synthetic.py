"""The synth task: deterministic, disjoint splits, short, correct step-by-step answers."""

import collections
import re
from fractions import Fraction

from mathft_jax import grading
from mathft_jax.data import prompts, synthetic


def _value(answer: str) -> Fraction:
    """Parses the boxed forms the generator writes: -7, \\frac{5}{6}, -\\frac{3}{2}."""
    sign = -1 if answer.startswith("-") else 1
    body = answer.lstrip("-")
    if body.startswith("\\frac{"):
        num, den = body[len("\\frac{") : -1].split("}{")
        return sign * Fraction(int(num), int(den))
    return sign * Fraction(int(body))


def _solve(problem: str) -> Fraction:
    """An independent solver for the generated problem forms."""
    if problem.startswith("Compute "):
        expr = problem[len("Compute ") : -1]
        return Fraction(eval(expr.replace("/", "*Fraction(1)/"), {"Fraction": Fraction}))  # noqa: S307
    lhs, rhs = problem[len("Solve ") : -len(" for x.")].split("=")

    def linear(side: str) -> tuple[Fraction, Fraction]:  # "kx+m" -> (k, m)
        if "x" not in side:
            return Fraction(0), Fraction(int(side))
        match = re.fullmatch(r"(-?\d*)x([+-]\d+)?", side)
        assert match, side
        k = {"": 1, "-": -1}.get(match.group(1), None)
        k = int(match.group(1)) if k is None else k
        return Fraction(k), Fraction(int(match.group(2) or 0))

    (a, b), (c, d) = linear(lhs), linear(rhs)
    return (d - b) / (a - c)


def test_same_seed_same_examples_other_seed_differs():
    assert synthetic.generate("train", 50, seed=0) == synthetic.generate("train", 50, seed=0)
    assert synthetic.generate("train", 50, seed=0) != synthetic.generate("train", 50, seed=1)


def test_splits_are_disjoint_and_sized():
    splits = {s: synthetic.generate(s, 300) for s in synthetic.SPLITS}
    texts = {s: {e.problem for e in ex} for s, ex in splits.items()}
    assert all(len(t) == 300 for t in texts.values())
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["validation"]
    assert not texts["validation"] & texts["test"]


def test_answers_are_right_and_boxed_at_the_end():
    for e in synthetic.generate("test", 400):
        assert e.solution.endswith(prompts.boxed(e.answer)), e
        assert _value(e.answer) == _solve(e.problem), e


def test_answers_exercise_fractions_negatives_and_all_levels():
    examples = synthetic.generate("validation", 500)
    answers = [e.answer for e in examples]
    assert any("\\frac" in a for a in answers) and any(a.startswith("-\\frac") for a in answers)
    assert any(a.startswith("-") and "frac" not in a for a in answers)
    assert {e.level for e in examples} == set(synthetic.LEVELS)


def test_problem_plus_solution_is_short():
    longest = max(
        len(prompts.ssft_prompt(e.problem) + e.solution) for e in synthetic.generate("train", 3000)
    )
    assert longest <= 160


def test_every_kind_of_corrupted_solution_is_graded_wrong():
    for e in synthetic.generate("test", 300):
        for kind in synthetic.ERROR_KINDS:
            wrong = synthetic.corrupt_solution(e, kind=kind)
            answer = grading.extract_answer(wrong)
            assert answer is None or not grading.is_equiv(e.answer, answer), (kind, e, wrong)
            if kind == "unfinished":
                assert answer is None, wrong
            else:  # consistent with its own last line except the boxed contradiction
                last = wrong.rsplit(" \\boxed{", 1)[0].rpartition("=")[2].rstrip(".")
                agrees = _value(answer) == Fraction(last.strip("()"))
                assert agrees == (kind != "boxed"), (kind, e, wrong)


def test_copy_error_misreads_the_problem_in_the_first_step():
    # Levels 1 and 4 restate every given number in the first step, so a misread one shows there.
    for e in [x for x in synthetic.generate("test", 200) if x.level in (1, 4)]:
        wrong = synthetic.corrupt_solution(e, kind="copy")
        restated = ["=".join(text.split("=")[:2]) for text in (wrong, e.solution)]
        assert restated[0] != restated[1], (e, wrong)


def test_corruption_is_deterministic_and_mixes_the_kinds():
    examples = synthetic.generate("validation", 500)
    assert [synthetic.corrupt_solution(e) for e in examples] == [
        synthetic.corrupt_solution(e) for e in examples
    ]
    other_seed = [synthetic.corrupt_solution(e, seed=1) for e in examples]
    assert other_seed != [synthetic.corrupt_solution(e) for e in examples]
    counts = collections.Counter(synthetic.error_kind(e) for e in examples)
    for kind, weight in zip(synthetic.ERROR_KINDS, synthetic.ERROR_WEIGHTS, strict=True):
        assert abs(counts[kind] / len(examples) - weight) < 0.07, counts
