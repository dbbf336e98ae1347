"""The chain task: deterministic, disjoint splits, one small checked operation a step."""

import pathlib
import re

import gin
import pytest

from mathft_jax import grading
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
