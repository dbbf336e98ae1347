"""Validation during training: eval-step metrics averaged over a few batches, plus hooks.

python -m pytest -q tests/training/test_trainer.py
"""

from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np

from mathft_jax.runtime import partitioning
from mathft_jax.training.train_config import TrainLoopConfig, ValidationConfig


def weighted_mean(rows: list[dict[str, float]]) -> dict[str, float]:
    """Averages eval metrics over batches weighted by their count (tokens or examples).

    The counts themselves ("target_tokens" / "examples") are summed, e.g.
    [{"loss": 1, "target_tokens": 1}, {"loss": 4, "target_tokens": 3}] -> {"loss": 3.25,
    "target_tokens": 4}.
    """
    out: dict[str, float] = {}
    if not rows:
        return out
    wkey = "target_tokens" if "target_tokens" in rows[0] else "examples"
    weights = np.asarray([r.get(wkey, 1.0) for r in rows], np.float64)
    total = max(weights.sum(), 1e-9)
    for k in rows[0]:
        if k in ("target_tokens", "examples"):
            out[k] = float(sum(r[k] for r in rows))
        else:
            out[k] = float(sum(w * r[k] for w, r in zip(weights, rows, strict=True)) / total)
    return out


def make_evaluate(
    val: ValidationConfig,
    loop: TrainLoopConfig,
    eval_step: Callable[[Any, Any], dict],
    batch_iterator_fn: Callable[..., Iterator[dict]],
    batch_sharding: Any,
    vocabulary: Any,
) -> Callable[[Any, int], dict[str, float]]:
    """`(params, step) -> {"validation/<metric>": value}` over the first `val.batches` batches
    of `val.split` (same batch size and feature lengths as training, never shuffled)."""

    def evaluate(params: Any, step: int) -> dict[str, float]:
        eval_it = batch_iterator_fn(
            val.task_name or loop.task_name, val.split, loop.batch_size, loop.feature_lengths,
            seed=loop.seed, shuffle=False, repeat=False, pack=loop.pack,
            shard_index=jax.process_index(), num_shards=jax.process_count(), start_step=0,
            vocabulary=vocabulary,
        )  # fmt: skip
        rows = []
        for i, local in enumerate(eval_it):
            if i >= val.batches:
                break
            m = eval_step(params, partitioning.global_batch(local, batch_sharding))
            rows.append({k: float(v) for k, v in jax.device_get(m).items()})
        out = {f"validation/{k}": v for k, v in weighted_mean(rows).items()}
        for hook in val.hooks:
            out.update({f"validation/{k}": float(v) for k, v in hook(params, step).items()})
        return out

    return evaluate
