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
    hook = hooks.greedy_pass_at_1_hook(PROBLEMS, num_problems=3, batch_size=2, **KWARGS)
    assert hook(None, 100) == {"greedy_pass_at_1": pytest.approx(2 / 3)}
    hook_all = hooks.greedy_pass_at_1_hook(PROBLEMS, num_problems=None, batch_size=2, **KWARGS)
    assert hook_all(None, 100) == {"greedy_pass_at_1": pytest.approx(3 / 4)}
