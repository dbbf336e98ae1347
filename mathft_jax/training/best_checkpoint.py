"""The stage's best checkpoint by a validation metric, recorded in MODEL_DIR/best_checkpoint.json.

Orbax keeps the best step's checkpoint itself (`checkpoints.make_manager`); this module names it
for later stages (`checkpoints.load_params(MODEL_DIR)`, the recipe). The file is written only once
a later save (or the end of the run) has made the best step's checkpoint final, so it never names
a step that a crash could leave half-written.

    python -m pytest -q tests/training/test_trainer.py
"""

import os
from typing import Any

from mathft_jax.runtime import checkpoints


def improves(value: float, best: dict[str, Any], mode: str) -> bool:
    """Whether `value` becomes the new best; ties go to the later step, as orbax's BestN keeps it
    (the earlier tied step may be deleted). `mode` "min"; anything else means "max"."""
    if not best:
        return True
    return value <= best["value"] if mode == "min" else value >= best["value"]


class BestCheckpoint:
    """Tracks the best evaluation of one run (starting from the file a resumed run left)."""

    def __init__(self, model_dir: str, metric: str | None, mode: str) -> None:
        self.model_dir, self.metric, self.mode = model_dir, metric, mode
        self._path = os.path.join(model_dir, checkpoints.BEST)
        self.best: dict[str, Any] = checkpoints.read_json(self._path) or {}
        self._pending: dict[str, Any] | None = None

    def observe(self, step: int, eval_metrics: dict[str, float]) -> None:
        """Considers the validation metrics of `step` (whose checkpoint is saved next)."""
        value = eval_metrics.get(self.metric) if self.metric else None
        if value is None or not improves(value, self.best, self.mode):
            return
        path = os.path.join(self.model_dir, checkpoints.CHECKPOINTS, str(step))
        self.best = {"step": step, "metric": self.metric, "value": value, "path": path}
        self._pending = self.best

    def saved(self, step: int) -> None:
        """After the save of `step`: an earlier pending best is now final, so it is written."""
        if self._pending is not None and self._pending["step"] < step:
            self.flush()

    def flush(self) -> None:
        """Writes the pending best (call after `manager.wait_until_finished()`)."""
        if self._pending is not None:
            checkpoints.write_json(self._path, self._pending)
            self._pending = None
