"""Worker-process deadlines: results in order, overruns and crashes answered by the default."""

from __future__ import annotations

import time

from mathft_jax.grading.deadline import map_with_deadline


def _slow_square(x: float, sleep_s: float) -> float:
    time.sleep(sleep_s)
    if x < 0:
        raise ValueError("negative")
    return x * x


def test_results_timeouts_and_errors() -> None:
    items = [(1, 0.0), (2, 30.0), (-1, 0.0), (3, 0.0), (4, 0.0)]
    start = time.monotonic()
    results, outcomes = map_with_deadline(_slow_square, items, timeout=1.0, workers=2, default=-7)
    elapsed = time.monotonic() - start
    assert results == [1, -7, -7, 9, 16]
    assert outcomes == ["ok", "timeout", "error", "ok", "ok"]
    assert elapsed < 20  # the 30 s item was killed at its deadline, not waited for


def test_empty() -> None:
    assert map_with_deadline(_slow_square, [], timeout=1.0) == ([], [])
