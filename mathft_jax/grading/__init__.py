"""Safe math-answer grading for MATH-style final answers. Never imports JAX (nor sympy).

Modules: `extract` (last `\\boxed{}`/`\\fbox{}` or PRM800K `# Answer`), `normalize` (cheap
canonical strings), `latex_parser` (whitelist tokenizer and parser, guarded exact/40-digit
evaluation), `equivalence` (structure-aware `is_equiv`, counters), `deadline` (worker processes
with hard per-item deadlines).

    from mathft_jax.grading import extract_answer, is_equiv, canonical_form
    is_equiv("\\frac{1}{2}", extract_answer("... so $\\boxed{0.5}$."))  # True
"""

from mathft_jax.grading.equivalence import (
    clear_caches,
    grading_stats,
    is_equiv,
    is_equiv_many,
    reset_grading_stats,
)
from mathft_jax.grading.extract import extract_answer
from mathft_jax.grading.normalize import canonical_form

__all__ = [
    "canonical_form",
    "clear_caches",
    "extract_answer",
    "grading_stats",
    "is_equiv",
    "is_equiv_many",
    "reset_grading_stats",
]
