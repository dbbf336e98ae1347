"""The training loop of one stage: mesh, sharded state, start precedence, steps, validation, faults.

    python -m mathft_jax.train --gin_file=gin/ssft.gin --gin.MODEL_DIR="'runs/ssft'"

Every knob is a gin binding of `train` (see gin/ssft.gin). Start precedence (logged loudly):
resume from MODEL_DIR's latest checkpoint of this stage > INITIAL_CHECKPOINT_PATH (params only,
fresh optimizer) > random init; see `checkpoints.decide_start`. Data position on resume = step.
SIGTERM saves a checkpoint and returns; a NaN/Inf loss raises FloatingPointError without saving.
"""

import logging
import math
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import flax.linen as nn
import gin
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from mathft_jax import paths_io
from mathft_jax.models import ModelConfig, transformer
from mathft_jax.training import checkpoints, objectives, optimizers, output_head, partitioning
from mathft_jax.training.metrics_logging import MetricsLogger
from mathft_jax.training.train_state import TrainState, make_eval_step, make_train_step

log = logging.getLogger("mathft_jax.train")

EvalHook = Callable[[Any, int], dict[str, float]]


def default_batch_iterator(*args: Any, **kwargs: Any) -> Iterator[dict]:
    """`mathft_jax.data.pipeline.batch_iterator` (imported lazily: it loads TensorFlow)."""
    from mathft_jax.data import pipeline  # noqa: PLC0415

    return pipeline.batch_iterator(*args, **kwargs)


def _label_ids(obj: objectives.Objective, vocabulary: Any) -> objectives.Objective:
    if not obj.needs_labels or obj.label_ids is not None:
        return obj
    from mathft_jax.data import prompts, vocabularies  # noqa: PLC0415

    ids = vocabularies.verifier_label_token_ids(vocabulary, *prompts.verifier_words())
    log.info("verifier label token ids (correct, incorrect) = %s", ids)
    return objectives.Objective(obj.kind, obj.margin, obj.alpha, ids)


def _count_tokens(batch: Any) -> float:
    leaves = jax.tree_util.tree_leaves_with_path(batch)
    return float(
        sum(np.sum(x != 0) for p, x in leaves if "decoder_segment_ids" in jax.tree_util.keystr(p))
    )


class _Sigterm:
    """Records SIGTERM so the loop can save and exit between steps."""

    def __init__(self) -> None:
        self.received = False
        self._old = None

    def __enter__(self) -> "_Sigterm":
        try:
            self._old = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self._old = None
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        log.warning("SIGTERM received: saving a checkpoint and exiting after this step")
        self.received = True

    def __exit__(self, *exc: Any) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


def _weighted_mean(rows: list[dict[str, float]]) -> dict[str, float]:
    """Averages eval metrics over batches weighted by their count (tokens or examples)."""
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


def _check_finite(metrics: dict, step: int, task_name: str, manager: Any, model_dir: str) -> None:
    """Raises FloatingPointError (naming the step and the last good checkpoint) on a bad step."""
    checked = {k: float(metrics[k]) for k in ("loss", "grad_norm", "update_norm")}
    if not all(math.isfinite(v) for v in checked.values()):
        manager.wait_until_finished()
        raise FloatingPointError(
            f"non-finite {checked} at step {step} (task {task_name}); stopping without "
            f"saving. Last good checkpoint: step {manager.latest_step()} in "
            f"{model_dir}/checkpoints (lower the learning rate?)"
        )


@gin.configurable
def train(
    model_dir: str = gin.REQUIRED,
    stage: str = gin.REQUIRED,
    train_steps: int = gin.REQUIRED,
    task_name: str = gin.REQUIRED,
    feature_lengths: dict[str, int] = gin.REQUIRED,
    batch_size: int = gin.REQUIRED,
    initial_checkpoint_path: str | None = None,
    model_config: ModelConfig | None = None,
    objective: objectives.Objective | None = None,
    seed: int = 0,
    shuffle: bool = True,
    pack: bool = False,
    accum_steps: int = 1,
    eval_task_name: str | None = None,
    eval_split: str = "validation",
    eval_every: int = 0,
    eval_batches: int = 8,
    eval_hooks: Sequence[EvalHook] = (),
    checkpoint_every: int = 100,
    keep_last: int = 2,
    best_metric: str | None = "validation/loss",
    best_mode: str = "min",
    log_every: int = 10,
    nan_check_every: int = 1,
    allow_initial_mismatch: bool = False,
    batch_iterator_fn: Callable[..., Iterator[dict]] = default_batch_iterator,
    vocabulary: Any = None,
) -> dict[str, Any]:
    """Runs (or resumes) one stage to `train_steps`; returns {"step", "start", "last_metrics"}."""
    model_dir = paths_io.normalize(model_dir)  # a gs:// URL stays a URL
    paths_io.makedirs(model_dir)
    cfg = model_config if model_config is not None else ModelConfig()
    if vocabulary is None:
        from mathft_jax.data import vocabularies  # noqa: PLC0415

        vocabulary = vocabularies.get_vocabulary()
    obj = _label_ids(objective or objectives.Objective(), vocabulary)
    mesh = partitioning.make_mesh()
    rules = partitioning.logical_axis_rules()
    shards = partitioning.batch_shards(mesh, rules)
    if batch_size % (shards * accum_steps) or batch_size % jax.process_count():
        raise ValueError(
            f"BATCH_SIZE={batch_size} must divide by batch shards ({shards}) x accum_steps "
            f"({accum_steps}) and by the process count ({jax.process_count()})"
        )
    log.info("mesh %s, rules %s", dict(mesh.shape), rules)

    schedule = optimizers.make_schedule(train_steps)
    tx = optimizers.make_optimizer(schedule)
    abstract = transformer.abstract_params(cfg)
    p_sh = partitioning.param_shardings(abstract, transformer.param_logical_axes(cfg), mesh, rules)
    o_sh = partitioning.opt_state_shardings(jax.eval_shape(tx.init, abstract), abstract, p_sh, mesh)
    replicated = NamedSharding(mesh, PartitionSpec())
    state_sh = TrainState(step=replicated, params=p_sh, opt_state=o_sh)
    b_sh = partitioning.batch_sharding(mesh, rules)

    # Losses read log probs over sequence chunks: no [batch, length, vocab] f32 logits.
    logits_fn = output_head.decoder_model(cfg)

    manager = checkpoints.make_manager(model_dir, keep_last, best_metric, best_mode)
    latest = manager.latest_step()
    start, reason = checkpoints.decide_start(
        model_dir, stage, initial_checkpoint_path, latest, allow_initial_mismatch
    )
    log.warning("%s", reason)
    with jax.set_mesh(mesh), nn.logical_axis_rules(rules):
        init_opt = jax.jit(tx.init, out_shardings=o_sh)
        if start == "resume":
            target = jax.tree.map(
                lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                TrainState(
                    step=jax.ShapeDtypeStruct((), jnp.int32),
                    params=abstract,
                    opt_state=jax.eval_shape(tx.init, abstract),
                ),
                TrainState(step=replicated, params=p_sh, opt_state=o_sh),
            )
            params, opt_state = checkpoints.restore(manager, latest, target)
            step0 = latest
        else:
            if start == "initial":
                params = checkpoints.load_params(initial_checkpoint_path, p_sh, cfg)
            else:
                params = jax.jit(lambda r: transformer.init_params(cfg, r), out_shardings=p_sh)(
                    jax.random.key(seed)
                )
            opt_state = init_opt(params)
            step0 = 0
            info = {"stage": stage, "initial_checkpoint": None}
            if start == "initial":
                info["initial_checkpoint"] = paths_io.normalize(initial_checkpoint_path)
            checkpoints.write_json(os.path.join(model_dir, checkpoints.RUN_INFO), info)
        state = TrainState(
            step=jax.device_put(jnp.asarray(step0, jnp.int32), replicated),
            params=params,
            opt_state=opt_state,
        )
        train_step = jax.jit(
            make_train_step(obj, logits_fn, tx, schedule, accum_steps),
            out_shardings=(state_sh, replicated),
            donate_argnums=0,
        )
        eval_step = jax.jit(make_eval_step(obj, logits_fn), out_shardings=replicated)
        it = batch_iterator_fn(
            task_name, "train", batch_size, feature_lengths, seed=seed, shuffle=shuffle,
            repeat=True, pack=pack, shard_index=jax.process_index(),
            num_shards=jax.process_count(), start_step=step0, vocabulary=vocabulary,
        )  # fmt: skip

        def evaluate(params: Any, step: int) -> dict[str, float]:
            eval_it = batch_iterator_fn(
                eval_task_name or task_name, eval_split, batch_size, feature_lengths, seed=seed,
                shuffle=False, repeat=False, pack=pack, shard_index=jax.process_index(),
                num_shards=jax.process_count(), start_step=0, vocabulary=vocabulary,
            )  # fmt: skip
            rows = []
            for i, local in enumerate(eval_it):
                if i >= eval_batches:
                    break
                m = eval_step(params, partitioning.global_batch(local, b_sh))
                rows.append({k: float(v) for k, v in jax.device_get(m).items()})
            out = {f"validation/{k}": v for k, v in _weighted_mean(rows).items()}
            for hook in eval_hooks:
                out.update({f"validation/{k}": float(v) for k, v in hook(params, step).items()})
            return out

        logger = MetricsLogger(model_dir, train_steps, step0)
        best = checkpoints.read_json(os.path.join(model_dir, checkpoints.BEST)) or {}
        pending_best: dict | None = None
        window: list[dict] = []
        step, metrics = step0, {}
        with _Sigterm() as sigterm:
            while step < train_steps:
                local = next(it)
                logger.add_tokens(_count_tokens(local) * jax.process_count())
                state, metrics = train_step(state, partitioning.global_batch(local, b_sh))
                step += 1
                window.append(metrics)
                if nan_check_every and step % nan_check_every == 0:
                    _check_finite(metrics, step, task_name, manager, model_dir)
                if step % log_every == 0 or step == train_steps:
                    host = jax.device_get(window)
                    mean = {k: float(np.mean([m[k] for m in host])) for k in host[-1]}
                    logger.log_train(step, mean)
                    window = []
                eval_metrics = None
                if eval_every and (step % eval_every == 0 or step == train_steps):
                    eval_metrics = evaluate(state.params, step)
                    logger.write(step, eval_metrics)
                    log.info("step %d validation %s", step, eval_metrics)
                    value = eval_metrics.get(best_metric) if best_metric else None
                    # Ties go to the later step, as orbax's BestN keeps it (the earlier one
                    # may be deleted).
                    if value is not None and (
                        not best
                        or (
                            value <= best["value"] if best_mode == "min" else value >= best["value"]
                        )
                    ):
                        best = {
                            "step": step,
                            "metric": best_metric,
                            "value": value,
                            "path": os.path.join(model_dir, checkpoints.CHECKPOINTS, str(step)),
                        }
                        pending_best = best
                save_now = checkpoint_every > 0 and (
                    step % checkpoint_every == 0
                    or step == train_steps
                    or eval_metrics is not None
                    or sigterm.received
                )
                if save_now:
                    if nan_check_every:  # also between check intervals: never save bad params
                        _check_finite(metrics, step, task_name, manager, model_dir)
                    checkpoints.save(manager, step, state, eval_metrics, force=True)
                    if pending_best is not None and pending_best["step"] < step:
                        checkpoints.write_json(
                            os.path.join(model_dir, checkpoints.BEST), pending_best
                        )
                        pending_best = None
                if sigterm.received:
                    log.warning("stopped by SIGTERM at step %d (checkpoint saved)", step)
                    break
        manager.wait_until_finished()
        if pending_best is not None:
            checkpoints.write_json(os.path.join(model_dir, checkpoints.BEST), pending_best)
        manager.close()
        logger.close()
    last = {k: float(v) for k, v in jax.device_get(metrics).items()} if metrics else {}
    return {"step": step, "start": start, "last_metrics": last, "state": state}
