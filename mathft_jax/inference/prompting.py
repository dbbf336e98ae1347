"""Prompt builders for decoding: the SSFT template for fine-tuned models, and the Minerva-style k-shot
prompt of MATH training problems with their solutions for a pretrained model before fine-tuning
(the paper's baseline is 4-shot). Selected in gin with `build_prompt_fn.style = "ssft" | "kshot"`.
"""

import random
from collections.abc import Callable, Sequence
from typing import Any

import gin

PromptFn = Callable[[str], str]

# A k-shot completion runs on into an invented next problem; decoded text is cut at this marker.
KSHOT_STOP = "\n\nProblem:"


# (unique_id, problem, solution, final answer) of a worked example.
Shot = tuple[str, str, str, str]
MINERVA_FINAL = "Final Answer: The final answer is ${answer}$. I hope it is correct."


def minerva_solution(solution: str, answer: str) -> str:
    """A worked example's solution in Minerva's form: the solution, then its final-answer line."""
    return f"{solution}\n" + MINERVA_FINAL.format(answer=answer)


def kshot_prompt(problem: str, shots: Sequence[Shot]) -> str:
    """The Minerva 4-shot MATH prompt (Lewkowycz et al. 2022, App. D; lm-evaluation-harness
    `minerva_math`): each shot is `Problem:\n{P}\n\nSolution:\n{S}\nFinal Answer: The final
    answer is ${A}$. I hope it is correct.`, shots joined by a blank line, then the problem and an
    open `Solution:` (here with its newline, as in the shots). The shots are seeded MATH training
    problems (`pick_kshot_examples`), not Minerva's four fixed ones, so none comes from the test.

    Example: kshot_prompt("1+1?", [("u", "2+2?", "$\\boxed{4}$", "4")]) ==
    "Problem:\n2+2?\n\nSolution:\n$\\boxed{4}$\nFinal Answer: The final answer is $4$. I hope it
    is correct.\n\nProblem:\n1+1?\n\nSolution:\n"
    """
    text = "".join(
        f"Problem:\n{p}\n\nSolution:\n{minerva_solution(s, a)}\n\n" for _, p, s, a in shots
    )
    return f"{text}Problem:\n{problem}\n\nSolution:\n"


def pick_kshot_examples(
    problems: Sequence[Shot], k: int, seed: int = 0, max_solution_chars: int = 600
) -> list[Shot]:
    """Picks k worked examples with short boxed solutions, reproducibly for a given seed."""
    short = [e for e in problems if len(e[2]) <= max_solution_chars and "\\boxed" in e[2]]
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
) -> tuple[PromptFn, tuple[str, ...], dict[str, Any]]:
    """Returns (prompt function, stop strings at which decoded text is cut, meta).

    `meta` goes into the candidates file's `meta`: `prompt_style`, and for "kshot" the Minerva
    format (`prompt_format`), `kshot_k`, `kshot_seed`, `kshot_source`, `kshot_split` and the shots'
    `kshot_ids`.

    Args:
      style: "ssft" (fine-tuned model, `mathft_jax.data.prompts.ssft_prompt`) or "kshot".
      k: number of worked examples for "kshot" (the paper's baseline: 4).
      kshot_source, kshot_split: where the examples come from (`mathft_jax.data.problems`).
      kshot_seed: which examples (fixed per seed, recorded in the meta).
    """
    if style == "ssft":
        from mathft_jax.data.prompts import ssft_prompt

        return ssft_prompt, (), {"prompt_style": "ssft"}
    if style == "kshot":
        from mathft_jax.data.problems import load_problems

        pool = [
            (p.unique_id, p.problem, p.solution, p.answer)
            for p in load_problems(kshot_source, kshot_split)
        ]
        shots = pick_kshot_examples(pool, k, kshot_seed)
        meta = {
            "prompt_style": "kshot",
            "prompt_format": "minerva",
            "kshot_k": k,
            "kshot_seed": kshot_seed,
            "kshot_source": kshot_source,
            "kshot_split": kshot_split,
            "kshot_ids": [shot[0] for shot in shots],
        }
        return (lambda problem: kshot_prompt(problem, shots)), (KSHOT_STOP,), meta
    raise ValueError(f'build_prompt_fn.style must be "ssft" or "kshot", got {style!r} (gin)')


def truncate_at_stops(text: str, stops: Sequence[str]) -> str:
    """Cuts `text` at the first occurrence of any stop string."""
    cut = len(text)
    for stop in stops:
        at = text.find(stop)
        if at >= 0:
            cut = min(cut, at)
    return text[:cut]
