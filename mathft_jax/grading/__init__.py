"""Safe math-answer grading: extraction, canonical forms, bounded equivalence. Never imports JAX."""

from mathft_jax.grading.equivalence import (
    grading_stats,
    is_equiv,
    is_equiv_many,
    reset_grading_stats,
)
from mathft_jax.grading.extract import extract_answer
from mathft_jax.grading.normalize import canonical_form

__all__ = [
    "canonical_form",
    "extract_answer",
    "grading_stats",
    "is_equiv",
    "is_equiv_many",
    "reset_grading_stats",
]
