"""Lightman split on the real MATH data, hashed validation carve-out, load_problems."""

from mathft_jax.data import problems, splits


def test_validation_choice_depends_only_on_ids():
    ids = [f"train/algebra/{i}.json" for i in range(100)]
    chosen = splits.validation_ids(ids, 10)
    assert len(chosen) == 10 and chosen == splits.validation_ids(reversed(ids), 10)
    assert chosen != splits.validation_ids(ids[:50] + [f"x{i}" for i in range(50)], 10)


def test_lightman_split_of_the_real_data(math_data_dir):
    by_split = {
        s: problems.load_problems("math", s, data_dir=str(math_data_dir)) for s in splits_names()
    }
    ids = {s: [p.unique_id for p in ps] for s, ps in by_split.items()}
    math500 = splits.read_math500_ids(math_data_dir / "math500_ids.txt")
    assert ids["test"] == math500  # MATH-500 order
    assert len(ids["validation"]) == 500
    assert len(ids["train"]) == 11500 - 2  # two training solutions state no boxed answer
    assert not set(ids["train"]) & set(ids["validation"])
    assert not (set(ids["train"]) | set(ids["validation"])) & set(math500)
    first = by_split["test"][0]
    assert first.answer and "\\boxed" in first.solution


def test_synth_problems_come_with_answers():
    ps = problems.load_problems("synth", "test", num_examples=20)
    assert len(ps) == 20 and all(p.solution.endswith(f"\\boxed{{{p.answer}}}") for p in ps)


def splits_names() -> tuple[str, ...]:
    return ("train", "validation", "test")
