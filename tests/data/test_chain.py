"""The chain task: deterministic, disjoint splits, one small checked operation a step."""

import pathlib
import random
import re

import gin
import pytest

from mathft_jax import gin_flags, grading
from mathft_jax.data import chain, chain_tasks, problems, prompts
from mathft_jax.data.registry import get_task


def test_same_seed_same_examples_other_seed_differs():
    assert chain.generate("train", 50, seed=0) == chain.generate("train", 50, seed=0)
    assert chain.generate("train", 50, seed=0) != chain.generate("train", 50, seed=1)


def test_splits_are_disjoint_and_sized():
    texts = {s: {e.problem for e in chain.generate(s, 300)} for s in chain.SPLITS}
    assert all(len(t) == 300 for t in texts.values())
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["validation"]
    assert not texts["validation"] & texts["test"]


def test_every_step_is_one_small_right_operation_and_the_answer_is_boxed():
    for e in chain.generate("test", 400):
        expr = e.problem[len("Compute ") : -1]
        assert int(e.answer) == eval(expr)  # noqa: S307 (digits and +/- only)
        assert e.solution.endswith(prompts.boxed(e.answer))
        assert grading.extract_answer(e.solution) == e.answer
        steps = re.findall(r"(\d+)([+-])(\d)=(\d+)\.", e.solution)
        assert chain.MIN_STEPS <= len(steps) == e.level <= chain.MAX_STEPS
        running = int(re.match(r"\d+", expr).group())
        for a, op, d, c in steps:  # each step starts from the previous result
            assert int(a) == running and 2 <= int(d) <= 9
            running = int(a) + int(d) if op == "+" else int(a) - int(d)
            assert int(c) == running and chain.LOW <= running <= chain.HIGH
        assert len(prompts.ssft_prompt(e.problem)) <= 48 and len(e.solution) < 72


@pytest.fixture
def _clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


def test_tasks_register_when_gin_asks_and_problems_load_with_the_gin_sizes(_clean_gin):
    gin.parse_config(["chain_problems.num_eval = 7", "chain_problems.num_train = 9"])
    assert chain_tasks.chain_task("eval") == "chain_eval"
    examples = get_task("chain_eval").examples("validation")
    assert len(examples) == 7 and examples[0]["inputs"].startswith("Problem: Compute ")
    loaded = problems.load_problems("chain", "test")
    assert len(loaded) == 7 and loaded[0].unique_id == "chain/test/0"
    assert [p.problem for p in problems.load_problems("chain", "train", num_examples=3)] == [
        e.problem for e in chain.generate("train", 3)
    ]
    with pytest.raises(ValueError, match="chain_task.kind"):
        chain_tasks.chain_task("verifier")


def test_chain_gin_file_names_the_task_and_lengths_that_fit(_clean_gin):
    gin.parse_config_file(str(pathlib.Path(__file__).resolve().parents[2] / "gin/data/chain.gin"))
    assert gin.query_parameter("%MIXTURE_OR_TASK_NAME").scoped_configurable_fn() == "chain_ssft"
    lengths = gin.query_parameter("%TASK_FEATURE_LENGTHS")
    examples = get_task("chain_ssft").examples("validation")
    assert len(examples) == 500
    assert max(len(e["inputs"]) for e in examples) <= lengths["inputs"]
    assert max(len(e["targets"]) + 1 for e in examples) <= lengths["targets"]  # + EOS
    verifier = gin.query_parameter("%VERIFIER_FEATURE_LENGTHS")["inputs"]
    longest = max(
        len(prompts.verifier_prompt(e.problem, e.solution)) for e in chain.generate("test")
    )
    assert longest + (72 - 64) <= verifier  # a sample may run to max_decode_len 72, not just 64


def test_mod10_steps_are_single_digit_sums_at_fixed_offsets():
    examples = chain.generate("test", 300, variant="mod10")
    assert examples != chain.generate("test", 300)  # the variant changes the problems
    for e in examples:
        digits = [int(t) for t in e.problem[len("Add mod 10: ") : -1].split()]
        steps = re.findall(r"(\d)\+(\d)=(\d)\.", e.solution)
        assert chain.MOD10_MIN_STEPS <= len(steps) == e.level == len(digits) - 1
        running = digits[0]
        for (a, d, c), given in zip(steps, digits[1:]):
            assert int(a) == running and int(d) == given
            running = (running + given) % 10
            assert int(c) == running
        assert e.answer == str(sum(digits) % 10) == grading.extract_answer(e.solution)
    with pytest.raises(ValueError, match="variant"):
        chain.generate("test", 3, variant="mod11")


def test_a_fallible_teacher_slips_by_one_and_goes_on_from_what_it_wrote():
    examples = chain.generate("train", 400, variant="mod10")
    assert [chain.with_slips(e, 0.0, i) for i, e in enumerate(examples)] == [
        e.solution for e in examples
    ]
    slipped_steps = total_steps = wrong_answers = 0
    for i, e in enumerate(examples):
        written = chain.with_slips(e, 0.3, i)
        assert written == chain.with_slips(e, 0.3, i)  # deterministic
        steps = re.findall(r"(\d)\+(\d)=(\d)\.", written)
        for k, (a, d, c) in enumerate(steps):
            if k:
                assert int(a) == int(steps[k - 1][2])  # later steps start from the written value
            delta = (int(c) - int(a) - int(d)) % 10
            assert delta in (0, 1, 9)
            slipped_steps += delta != 0
        total_steps += len(steps)
        answer = grading.extract_answer(written)
        assert answer == steps[-1][2]
        wrong_answers += answer != e.answer
    assert 0.25 < slipped_steps / total_steps < 0.35
    assert wrong_answers > 200
    with pytest.raises(ValueError, match="mod10"):
        chain.with_slips(chain.generate("train", 1)[0], 0.3, 0)


def test_teacher_slips_reach_only_the_training_split(_clean_gin):
    gin.parse_config(
        [
            "chain_problems.variant = 'mod10'",
            "chain_problems.num_eval = 50",
            "chain_problems.num_train = 50",
        ]
    )
    chain_tasks.chain_task("ssft", teacher_slip_rate=0.3)
    task = get_task("chain_ssft")
    clean = {s: chain_tasks.chain_problems(s) for s in chain.SPLITS}
    assert [e["targets"] for e in task.examples("validation")] == [
        e.solution for e in clean["validation"]
    ]
    train = [e["targets"] for e in task.examples("train")]
    assert train != [e.solution for e in clean["train"]]
    assert train == [chain.with_slips(e, 0.3, i) for i, e in enumerate(clean["train"])]
    with pytest.raises(ValueError, match="teacher_slip_rate"):
        chain_tasks.chain_task("ssft", teacher_slip_rate=1.0)


def test_mod10_gin_file_lengths_fit_the_longest_problem_solution_and_verifier_prompt(_clean_gin):
    gin_flags.setup_gin(["--gin_file=data/mod10.gin"])  # as a job reads it (repo gin/ searched)
    assert gin.query_parameter("chain_problems.variant") == "mod10"
    lengths = gin.query_parameter("%TASK_FEATURE_LENGTHS")
    examples = [e for s in chain.SPLITS for e in chain.generate(s, 500, variant="mod10")]
    assert max(len(prompts.ssft_prompt(e.problem)) for e in examples) <= lengths["inputs"]
    assert max(len(e.solution) + 1 for e in examples) <= lengths["targets"]  # + EOS
    verifier = gin.query_parameter("%VERIFIER_FEATURE_LENGTHS")["inputs"]
    longest_problem = max(len(prompts.verifier_prompt(e.problem, "")) for e in examples)
    assert longest_problem + lengths["targets"] <= verifier  # a sample may run to the decode cap


def _steps(text: str) -> list[tuple[str, str, str, str]]:
    return re.findall(r"(\d)([+-])(\d)=(\d)", text)


def test_mod10check_sums_then_takes_every_digit_back_off_to_zero():
    for e in chain.generate("test", 300, variant="mod10check"):
        digits = [int(t) for t in e.problem[len(chain.MOD10_PREFIX) : -1].split()]
        forward, check = e.solution.split(chain.CHECK_MARK)
        assert chain.CHECK_MIN_STEPS <= len(_steps(forward)) == len(digits) - 1
        assert e.answer == str(sum(digits) % 10) == grading.extract_answer(e.solution)
        value = int(e.answer)
        assert len(_steps(check)) == len(digits)
        for (a, sign, d, c), given in zip(_steps(check), digits[::-1]):  # last digit first
            assert (sign, int(a), int(d)) == ("-", value, given)
            value = (value - given) % 10
            assert int(c) == value
        assert value == 0 and check.endswith("=0.")
        assert forward.endswith(f"={e.answer}. \\boxed{{{e.answer}}} ")


def test_a_teacher_with_the_carry_habit_adds_carries_into_units_and_its_check_shows_it():
    examples = chain.generate("train", 400, variant="mod10check")
    carry_steps = carry_slips = other_slips = wrong = 0
    for i, e in enumerate(examples):
        written = chain.with_slips(e, 0.0, i, carry_rate=0.5)
        forward, check = written.split(chain.CHECK_MARK)
        for a, _, d, c in _steps(forward):
            delta = (int(c) - int(a) - int(d)) % 10
            if int(a) + int(d) >= 10:
                carry_steps += 1
                carry_slips += delta == 1
                assert delta in (0, 1)
            else:
                other_slips += delta != 0
        answer_wrong = grading.extract_answer(written) != e.answer
        assert answer_wrong == (not check.endswith("=0."))  # the check (no slips) shows the error
        wrong += answer_wrong
    assert other_slips == 0 and 0.42 < carry_slips / carry_steps < 0.58 and wrong > 100
    assert chain.with_slips(examples[0], 0.0, 0, 0.0) == examples[0].solution
    careful = [chain.with_slips(e, 0.3, i, 0.3, check_rate=0.0) for i, e in enumerate(examples)]
    for e, written in zip(examples, careful):  # forward slips, an exact check
        checks = _steps(written.split(chain.CHECK_MARK)[1])
        assert all((int(a) - int(d)) % 10 == int(c) for a, _, d, c in checks)
        assert (grading.extract_answer(written) == e.answer) == written.endswith("=0.")
    assert sum(not w.endswith("=0.") for w in careful) > 200


def test_mod10verdict_says_right_exactly_when_its_check_ends_at_zero():
    examples = chain.generate("train", 400, variant="mod10verdict")
    for e in examples[:50]:  # clean: mod10check's solution, then "Right."
        assert e.solution == chain._mod10_solution(_digits(e), checked=True) + " Right."
    said = {chain.VERDICT_RIGHT: 0, chain.VERDICT_WRONG: 0}
    for i, e in enumerate(examples):
        written = chain.with_slips(e, 0.1, i, 0.3)
        body, verdict = written.rsplit(" ", 1)
        assert verdict == (chain.VERDICT_RIGHT if body.endswith("=0.") else chain.VERDICT_WRONG)
        said[verdict] += 1
    assert min(said.values()) > 100  # both verdicts are common in the teacher's solutions
    assert "W" not in prompts.verifier_prompt(examples[0].problem, examples[0].solution)


def _digits(e) -> list[int]:
    return [int(t) for t in e.problem[len(chain.MOD10_PREFIX) : -1].split()]


def test_arithmetic_facts_are_right_table_entries_in_the_step_format():
    text = chain.arithmetic_facts(random.Random(0), 200)
    facts = _steps(text)
    assert len(facts) == 200 and {s for _, s, _, _ in facts} == {"+", "-"}
    for a, sign, d, c in facts:
        assert int(c) == (int(a) + int(d) if sign == "+" else int(a) - int(d)) % 10
    assert {s for _, s, _, _ in _steps(chain.arithmetic_facts(random.Random(0), 50, "+"))} == {"+"}


@pytest.mark.parametrize("variant", ["mod10check", "mod10verdict"])
def test_mod10_checked_gin_file_lengths_fit_the_longest_problem_solution_and_verifier_prompt(
    _clean_gin, variant
):
    gin_flags.setup_gin([f"--gin_file=data/{variant}.gin"])
    assert gin.query_parameter("chain_problems.variant") == variant
    lengths = gin.query_parameter("%TASK_FEATURE_LENGTHS")
    examples = [e for s in chain.SPLITS for e in chain.generate(s, 500, variant=variant)]
    written = [chain.with_slips(e, 0.3, i, 0.5) for i, e in enumerate(examples)]
    assert max(len(prompts.ssft_prompt(e.problem)) for e in examples) <= lengths["inputs"]
    assert max(len(t) + 1 for t in written + [e.solution for e in examples]) <= lengths["targets"]
    verifier = gin.query_parameter("%VERIFIER_FEATURE_LENGTHS")["inputs"]
    longest_problem = max(len(prompts.verifier_prompt(e.problem, "")) for e in examples)
    assert longest_problem + lengths["targets"] <= verifier
