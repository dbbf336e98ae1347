"""Prompt builders for decoding: the SSFT template for fine-tuned models, and a k-shot prompt of MATH
training problems with their solutions for a pretrained model before fine-tuning (the paper's
baseline is 4-shot). Selected in gin with `build_prompt_fn.style = "ssft" | "kshot"`.
"""

import random
from collections.abc import Callable, Sequence

import gin

PromptFn = Callable[[str], str]

# A k-shot completion runs on into an invented next problem; decoded text is cut at this marker.
KSHOT_STOP = "\n\nProblem:"


def kshot_prompt(problem: str, examples: Sequence[tuple[str, str]]) -> str:
    """Minerva-style few-shot prompt: worked examples, then the problem and an open `Solution:`.

    Example: kshot_prompt("1+1?", [("2+2?", "$\\boxed{4}$")]) ==
    "Problem:\\n2+2?\\n\\nSolution:\\n$\\boxed{4}$\\n\\nProblem:\\n1+1?\\n\\nSolution:\\n"
    """
    shots = "".join(f"Problem:\n{p}\n\nSolution:\n{s}\n\n" for p, s in examples)
    return f"{shots}Problem:\n{problem}\n\nSolution:\n"


def pick_kshot_examples(
    problems: Sequence[tuple[str, str]], k: int, seed: int = 0, max_solution_chars: int = 600
) -> list[tuple[str, str]]:
    """Picks k (problem, solution) pairs with short solutions, reproducibly for a given seed."""
    short = [(p, s) for p, s in problems if len(s) <= max_solution_chars and "\\boxed" in s]
    if len(short) < k:
        raise ValueError(
            f"only {len(short)} training problems have a boxed solution of <= {max_solution_chars} "
            f"chars; k-shot needs k={k} (lower build_prompt_fn.k or raise max_solution_chars)"
        )
    return random.Random(seed).sample(short, k)


@gin.configurable
def build_prompt_fn(
    style: str = "ssft",
    k: int = 4,
    kshot_source: str = "math",
    kshot_split: str = "train",
    kshot_seed: int = 0,
) -> tuple[PromptFn, tuple[str, ...]]:
    """Returns (prompt function, stop strings at which decoded text is cut).

    Args:
      style: "ssft" (fine-tuned model, `mathft_jax.data.prompts.ssft_prompt`) or "kshot".
      k: number of worked examples for "kshot".
      kshot_source, kshot_split: where the examples come from (`mathft_jax.data.problems`).
      kshot_seed: which examples (fixed per seed, recorded in the candidates file's meta).
    """
    if style == "ssft":
        from mathft_jax.data.prompts import ssft_prompt  # noqa: PLC0415

        return ssft_prompt, ()
    if style == "kshot":
        from mathft_jax.data.problems import load_problems  # noqa: PLC0415

        pool = [(p.problem, p.solution) for p in load_problems(kshot_source, kshot_split)]
        examples = pick_kshot_examples(pool, k, kshot_seed)
        return (lambda problem: kshot_prompt(problem, examples)), (KSHOT_STOP,)
    raise ValueError(f'build_prompt_fn.style must be "ssft" or "kshot", got {style!r} (gin)')


def truncate_at_stops(text: str, stops: Sequence[str]) -> str:
    """Cuts `text` at the first occurrence of any stop string."""
    cut = len(text)
    for stop in stops:
        at = text.find(stop)
        if at >= 0:
            cut = min(cut, at)
    return text[:cut]
