"""The loop's health checks: a NaN/Inf step, or a finite blow-up caught by `DivergenceGuard`
(train_config.py), stops the run naming the step and the last good checkpoint, one saved before
the guard first tripped (or says plainly that there is none).

    python -m pytest -q tests/training/test_divergence.py
"""

import collections
import logging
import math
from typing import Any

from mathft_jax.errors import JobError
from mathft_jax.training.train_config import DivergenceGuard

log = logging.getLogger("mathft_jax.train")
CHECKED = ("loss", "grad_norm", "update_norm")


class TrainingDiverged(FloatingPointError, JobError):
    """NaN/Inf or a blow-up: one line with the step, the values and the last good checkpoint."""


class Health:
    """Checks one step's metrics: finite, and (guard) not far above their recent medians."""

    def __init__(self, guard: DivergenceGuard, task_name: str, checkpoints_dir: str) -> None:
        self.guard = guard
        self.task_name = task_name
        self.checkpoints_dir = checkpoints_dir
        self.first_trip: int | None = None  # first step the guard flagged in this run
        self._seen = 0
        self._recent = {
            k: collections.deque(maxlen=max(guard.window, 1)) for k in ("loss", "grad_norm")
        }

    def seed(self, log_rows: list[dict], step0: int) -> int:
        """Starts the medians (and the warm-up count) from train_log.jsonl rows up to `step0`,
        so a resumed run is armed at once against a jump right after the resume. Returns the
        number of rows used."""
        rows = [r for r in log_rows if r.get("step", step0 + 1) <= step0 and "train/loss" in r][
            -self.guard.window :
        ]
        for r in rows:
            for name in self._recent:
                if f"train/{name}" in r and math.isfinite(r[f"train/{name}"]):
                    self._recent[name].append(r[f"train/{name}"])
        self._seen += len(rows)
        return len(rows)

    def last_good(self, saved_steps: list[int], step: int) -> str:
        """The newest saved step before `step` and before the guard's first trip, in words."""
        limit = step if self.first_trip is None else min(step, self.first_trip)
        good = [s for s in saved_steps if s < limit]
        if not good:
            return f"no checkpoint was saved before step {limit}, so there is none to resume from"
        return f"Last good checkpoint: step {max(good)} in {self.checkpoints_dir}"

    def _tripped(self, values: dict[str, float]) -> str | None:
        g = self.guard
        trips = []
        for name, factor in (("loss", g.loss_factor), ("grad_norm", g.grad_norm_factor)):
            recent = self._recent[name]
            if recent and self._seen >= g.warmup_steps:
                ref = max(sorted(recent)[len(recent) // 2], g.min_reference)
                if values[name] > factor * ref:
                    trips.append(f"{name} {values[name]:.4g} > {factor:g} x {ref:.4g} (median)")
        return "; ".join(trips) or None

    def check(self, metrics: dict, step: int, saved_steps: Any) -> None:
        """Raises TrainingDiverged on a non-finite step or (guard.stop) a blow-up.

        `saved_steps()` gives the steps on disk (called only when stopping).
        """
        values = {k: float(metrics[k]) for k in CHECKED}
        if not all(math.isfinite(v) for v in values.values()):
            raise TrainingDiverged(
                f"non-finite {values} at step {step} (task {self.task_name}); stopping without "
                f"saving. {self.last_good(saved_steps(), step)} (lower the learning rate?)"
            )
        trip = self._tripped(values) if self.guard.enabled else None
        if trip and self.first_trip is None:
            self.first_trip = step
            if self.guard.stop:
                raise TrainingDiverged(
                    f"diverging at step {step} (task {self.task_name}): {trip}; stopping "
                    f"without saving. {self.last_good(saved_steps(), step)} (lower the learning "
                    "rate? DivergenceGuard.* tunes or disables this check)"
                )
            log.warning(
                "diverging at step %d: %s (DivergenceGuard.stop=False: going on)", step, trip
            )
        if not trip:  # a blow-up does not become the new normal
            for name in self._recent:
                self._recent[name].append(values[name])
        self._seen += 1
