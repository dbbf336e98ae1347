"""Fixtures for evaluation tests: a counting fake grader (see eval_fakes.py)."""

import pytest
from eval_fakes import CountingGrader

from mathft_jax.evaluation.grade import Grader


@pytest.fixture
def counting() -> CountingGrader:
    return CountingGrader()


@pytest.fixture
def fake_grader(counting: CountingGrader) -> Grader:
    return counting.grader()
