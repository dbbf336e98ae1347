"""The prompt templates every stage agrees on (SSFT, verifier, answer form).

Kept free of TensorFlow and JAX so decode and evaluation code can import it cheaply. The SSFT template
is short on purpose: byte-level tiny models pay for every prompt byte.
"""

import gin

SSFT_TEMPLATE = "Problem: {problem}\nSolution: "
VERIFIER_TEMPLATE = (
    "Here is a math problem: {problem}\nHere is a candidate solution: {solution}\n"
    "The above candidate solution is "
)
DEFAULT_CORRECT_WORD = "correct"
DEFAULT_INCORRECT_WORD = "incorrect"


def ssft_prompt(problem: str) -> str:
    """The SSFT input: the problem in the fixed template; the model continues with the solution.

    Example: ssft_prompt("1+1?") == "Problem: 1+1?\\nSolution: "
    """
    return SSFT_TEMPLATE.format(problem=problem)


def verifier_prompt(problem: str, solution: str) -> str:
    """The verifier input (paper Sec. 3.2); the target is the correct/incorrect word."""
    return VERIFIER_TEMPLATE.format(problem=problem, solution=solution)


@gin.configurable
def verifier_words(
    correct_word: str = DEFAULT_CORRECT_WORD, incorrect_word: str = DEFAULT_INCORRECT_WORD
) -> tuple[str, str]:
    """The (correct, incorrect) target words; bind `verifier_words.correct_word` etc. in gin."""
    if correct_word == incorrect_word:
        raise ValueError(
            f"verifier_words: correct and incorrect words are both {correct_word!r} (gin)"
        )
    return correct_word, incorrect_word


def boxed(answer: str) -> str:
    """The one final-answer form all SSFT targets end with."""
    return f"\\boxed{{{answer}}}"
