"""Progress output: one console line per interval, TensorBoard scalars, and a JSONL log.

`MODEL_DIR/train_log.jsonl` holds one {"step", ...scalars} object per logged step (tests and
plots read it); TensorBoard events go to `MODEL_DIR/tb`. Only process 0 writes.

    python -m pytest -q tests/training/test_trainer.py
"""

import json
import logging
import os
import time

import jax

from mathft_jax import paths_io

log = logging.getLogger("mathft_jax.train")


class MetricsLogger:
    """Writes scalars to the console, TensorBoard and JSONL; tracks tokens/s and ETA."""

    def __init__(self, model_dir: str, total_steps: int, start_step: int):
        self.enabled = jax.process_index() == 0
        self.total_steps = total_steps
        self._t0, self._s0 = time.time(), start_step
        self._tokens = 0.0
        self._writer = None
        self._jsonl = os.path.join(model_dir, "train_log.jsonl")
        if self.enabled:
            drop_rows_after(self._jsonl, start_step)
            from tensorboardX import SummaryWriter

            self._writer = SummaryWriter(os.path.join(model_dir, "tb"))

    def add_tokens(self, n: float) -> None:
        self._tokens += n

    def log_train(self, step: int, scalars: dict[str, float]) -> None:
        """Console line (step, loss, lr, tokens/s, ETA) plus TB/JSONL, then resets the rate window."""
        now = time.time()
        dt = max(now - self._t0, 1e-9)
        steps_per_s = (step - self._s0) / dt
        scalars = dict(scalars, tokens_per_s=self._tokens / dt, steps_per_s=steps_per_s)
        eta = (self.total_steps - step) / steps_per_s if steps_per_s > 0 else float("inf")
        if self.enabled:
            log.info(
                "step %d/%d loss %.4f lr %.3g tokens/s %.0f ETA %s",
                step,
                self.total_steps,
                scalars.get("loss", float("nan")),
                scalars.get("learning_rate", float("nan")),
                scalars["tokens_per_s"],
                _fmt_eta(eta),
            )
        self.write(step, {f"train/{k}": v for k, v in scalars.items()})
        self._t0, self._s0, self._tokens = now, step, 0.0

    def write(self, step: int, scalars: dict[str, float]) -> None:
        if not self.enabled:
            return
        for k, v in scalars.items():
            self._writer.add_scalar(k, v, step)
        self._writer.flush()
        with paths_io.open_file(self._jsonl, "a") as f:  # local or gs://
            f.write(json.dumps({"step": step, **{k: float(v) for k, v in scalars.items()}}) + "\n")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def drop_rows_after(path: str, step: int) -> int:
    """Cuts rows logged after `step` out of a train_log.jsonl (a resume from `step` logs them
    again); returns how many. Local files are replaced atomically (write, then rename)."""
    if not paths_io.exists(path):
        return 0
    with paths_io.open_file(path, "rb") as f:
        lines = f.readlines()
    keep = []
    for line in lines:
        try:
            row_step = json.loads(line)["step"]
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line from the crash
        if row_step <= step:
            keep.append(line if line.endswith(b"\n") else line + b"\n")
    dropped = len(lines) - len(keep)
    if dropped:
        log.info("%s: dropping %d rows logged after step %d (resumed there)", path, dropped, step)
        if paths_io.is_url(path):
            paths_io.as_path(path).write_bytes(b"".join(keep))
        else:
            tmp = f"{path}.tmp"
            with open(tmp, "wb") as f:
                f.write(b"".join(keep))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
    return dropped


def _fmt_eta(seconds: float) -> str:
    if seconds == float("inf"):
        return "?"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


def read_log(model_dir: str) -> list[dict]:
    """The JSONL log as a list of dicts (for tests and reports)."""
    path = os.path.join(model_dir, "train_log.jsonl")
    if not paths_io.exists(path):
        return []
    with paths_io.open_file(path) as f:
        return [json.loads(line) for line in f if line.strip()]
