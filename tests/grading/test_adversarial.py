"""Adversarial pairs (`adversarial_cases.py`): rewrites, near misses and hostile inputs written to
find the grader's blind spots. Every pair is checked both ways round, and must answer fast."""

from __future__ import annotations

import time

import pytest
from adversarial_cases import ADVERSARIAL, ADVERSARIAL_HOSTILE

from mathft_jax.grading import canonical_form, is_equiv

LIMIT_S = 0.5

_ROWS = [(cat, gt, cand, label) for cat, table in ADVERSARIAL.items() for gt, cand, label in table]


@pytest.mark.parametrize(
    "category, gt, cand, label",
    _ROWS,
    ids=[f"{cat}|{gt[:20]}|{cand[:20]}|{label}" for cat, gt, cand, label in _ROWS],
)
def test_adversarial_pairs(category: str, gt: str, cand: str, label: bool) -> None:
    assert is_equiv(gt, cand) is label
    assert is_equiv(cand, gt) is label


@pytest.mark.parametrize(
    "gt, cand, label",
    ADVERSARIAL_HOSTILE,
    ids=[f"adv_hostile{i}" for i in range(len(ADVERSARIAL_HOSTILE))],
)
def test_adversarial_hostile(gt: str, cand: str, label: bool) -> None:
    start = time.perf_counter()
    assert is_equiv(gt, cand) is label
    assert is_equiv(cand, gt) is label
    canonical_form(cand)
    assert time.perf_counter() - start < LIMIT_S


def test_adversarial_set_size() -> None:
    assert len(_ROWS) + len(ADVERSARIAL_HOSTILE) >= 700
    assert sum(1 for *_, label in _ROWS if not label) >= 180  # near misses, not only rewrites
