"""The training loop of one stage: mesh, sharded state, steps, logging, validation, faults.

    python -m mathft_jax.train --gin_file=gin/ssft.gin --gin.MODEL_DIR="'runs/ssft'"

The knobs are gin bindings of `TrainLoopConfig`, `CheckpointConfig` and `ValidationConfig`
(training/train_config.py; see gin/train_base.gin and gin/ssft.gin). Where the state comes from is
training/state_init.py (resume > INITIAL_CHECKPOINT_PATH > random init; data position on resume =
step), validation training/validation.py, the best checkpoint training/best_checkpoint.py.
SIGTERM saves a checkpoint and returns; a NaN/Inf loss or a blow-up (`DivergenceGuard`) raises
`divergence.TrainingDiverged` (a FloatingPointError) without saving; a failed async save stops the
loop at the next step (`checkpoints.SaveWatcher`).
"""

import dataclasses
import logging
import signal
from collections.abc import Callable, Iterator
from typing import Any

import flax.linen as nn
import gin
import jax
import numpy as np

from mathft_jax import paths_io
from mathft_jax.models import ModelConfig
from mathft_jax.runtime import checkpoints, multihost, partitioning
from mathft_jax.training import metrics_logging, objectives, optimizers, output_head, state_init
from mathft_jax.training import validation as validation_lib
from mathft_jax.training.best_checkpoint import BestCheckpoint
from mathft_jax.training.divergence import Health
from mathft_jax.training.metrics_logging import MetricsLogger
from mathft_jax.training.train_config import (
    CheckpointConfig,
    TrainLoopConfig,
    ValidationConfig,
)
from mathft_jax.training.train_state import TrainState, make_eval_step, make_train_step

log = logging.getLogger("mathft_jax.train")


def default_batch_iterator(*args: Any, **kwargs: Any) -> Iterator[dict]:
    """`mathft_jax.data.pipeline.batch_iterator` (imported lazily: it loads TensorFlow)."""
    from mathft_jax.data import pipeline

    return pipeline.batch_iterator(*args, **kwargs)


def _label_ids(obj: objectives.Objective, vocabulary: Any) -> objectives.Objective:
    if not obj.needs_labels or obj.label_ids is not None:
        return obj
    from mathft_jax.data import prompts, vocabularies

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


def _check_batch_size(loop: TrainLoopConfig, shards: int) -> None:
    if loop.batch_size % (shards * loop.accum_steps) or loop.batch_size % jax.process_count():
        raise ValueError(
            f"BATCH_SIZE={loop.batch_size} must divide by batch shards ({shards}) x accum_steps "
            f"({loop.accum_steps}) and by the process count ({jax.process_count()})"
        )


def _window_mean(window: list[dict]) -> dict[str, float]:
    """Means of the train metrics of the steps since the last log line."""
    host = jax.device_get(window)
    return {k: float(np.mean([m[k] for m in host])) for k in host[-1]}


@dataclasses.dataclass(frozen=True)
class _Run:
    """What the step loop reads and writes besides the state: knobs, checkpoints, logs."""

    loop: TrainLoopConfig
    ckpt: CheckpointConfig
    val: ValidationConfig
    manager: Any  # orbax CheckpointManager
    logger: MetricsLogger
    best: BestCheckpoint
    saves: checkpoints.SaveWatcher
    health: Health


def _run_steps(
    state: TrainState,
    step: int,
    train_step: Callable[[TrainState, dict], tuple[TrainState, dict]],
    batches: Iterator[dict],
    evaluate: Callable[[Any, int], dict[str, float]],
    run: _Run,
) -> tuple[TrainState, int, dict]:
    """Steps from `step` to train_steps (or SIGTERM): log, check, validate, save.

    Returns (state, last step, its metrics).
    """
    loop, manager, logger = run.loop, run.manager, run.logger

    def check(metrics: dict, step: int) -> None:
        run.health.check(metrics, step, manager.all_steps)

    window: list[dict] = []
    metrics: dict = {}
    with _Sigterm() as sigterm:
        while step < loop.train_steps:
            local = next(batches)
            logger.add_tokens(_count_tokens(local) * jax.process_count())
            state, metrics = train_step(state, local)
            step += 1
            window.append(metrics)
            run.saves.check()  # a failed async save stops here, not at the next save
            if loop.nan_check_every and step % loop.nan_check_every == 0:
                check(metrics, step)
            if step % loop.log_every == 0 or step == loop.train_steps:
                logger.log_train(step, _window_mean(window))
                window = []
            eval_metrics = None
            if run.val.due(step, loop.train_steps):
                eval_metrics = evaluate(state.params, step)
                logger.write(step, eval_metrics)
                log.info("step %d validation %s", step, eval_metrics)
                run.best.observe(step, eval_metrics)
            every = run.ckpt.every
            if every > 0 and (
                step % every == 0
                or step == loop.train_steps
                or eval_metrics is not None
                or sigterm.received
            ):
                if loop.nan_check_every:  # also between check intervals: never save bad params
                    check(metrics, step)
                run.saves.join()
                checkpoints.save(manager, step, state, eval_metrics, force=True)
                run.saves.started(step)
                run.best.saved(step)
            if sigterm.received:
                log.warning("stopped by SIGTERM at step %d (checkpoint saved)", step)
                break
    return state, step, metrics


@gin.configurable
def train(
    model_config: ModelConfig | None = None,
    objective: objectives.Objective | None = None,
    loop: TrainLoopConfig | None = None,
    checkpoint: CheckpointConfig | None = None,
    validation: ValidationConfig | None = None,
    batch_iterator_fn: Callable[..., Iterator[dict]] = default_batch_iterator,
    vocabulary: Any = None,
) -> dict[str, Any]:
    """Runs (or resumes) one stage up to `loop.train_steps`.

    Args:
      model_config: the model (gin: `train.model_config = %MODEL_CONFIG`); None: `ModelConfig()`.
      objective: the stage's loss; None: `Objective()` (gin: `train.objective = @Objective()`).
      loop, checkpoint, validation: the knobs; None builds each from its gin bindings
        (`TrainLoopConfig.*`, `CheckpointConfig.*`, `ValidationConfig.*`, see train_base.gin).
      batch_iterator_fn: `data.pipeline.batch_iterator` or a fake with its signature.
      vocabulary: None: `data.vocabularies.get_vocabulary()`.
    Returns:
      {"step": last step run (train_steps, or earlier after SIGTERM), "start": "resume" |
      "initial" | "scratch", "last_metrics": the last step's train metrics as floats,
      "state": the final `TrainState` (sharded arrays)}.
    """
    loop = loop if loop is not None else TrainLoopConfig()
    # A gs:// URL stays a URL.
    loop = dataclasses.replace(loop, model_dir=paths_io.normalize(loop.model_dir))
    ckpt = checkpoint if checkpoint is not None else CheckpointConfig()
    val = validation if validation is not None else ValidationConfig()
    paths_io.makedirs(loop.model_dir)
    # One trainer per MODEL_DIR (process 0 holds it; a second job stops here, on every process,
    # naming the first). Released below, or at exit/SIGTERM; a later train() here retakes it.
    lock = multihost.acquire_on_process_0(loop.model_dir, "train", is_dir=True)
    cfg = model_config if model_config is not None else ModelConfig()
    if vocabulary is None:
        from mathft_jax.data import vocabularies

        vocabulary = vocabularies.get_vocabulary()
    obj = _label_ids(objective or objectives.Objective(), vocabulary)
    mesh = partitioning.make_mesh()
    rules = partitioning.logical_axis_rules()
    _check_batch_size(loop, partitioning.batch_shards(mesh, rules))
    log.info("mesh %s, rules %s", dict(mesh.shape), rules)

    schedule = optimizers.make_schedule(loop.train_steps)
    tx = optimizers.make_optimizer(schedule)
    layout = state_init.state_layout(cfg, tx, mesh, rules)
    b_sh = partitioning.batch_sharding(mesh, rules)

    # Losses read log probs over sequence chunks: no [batch, length, vocab] f32 logits.
    logits_fn = output_head.decoder_model(cfg)

    manager = checkpoints.make_manager(
        loop.model_dir, ckpt.keep_last, val.best_metric, val.best_mode
    )
    with jax.set_mesh(mesh), nn.logical_axis_rules(rules):
        start, state = state_init.start_state(layout, manager, cfg, tx, loop, ckpt)
        jit_step = jax.jit(
            make_train_step(obj, logits_fn, tx, schedule, loop.accum_steps),
            out_shardings=(layout.shardings, layout.replicated),
            donate_argnums=0,
        )
        eval_step = jax.jit(make_eval_step(obj, logits_fn), out_shardings=layout.replicated)
        evaluate = validation_lib.make_evaluate(
            val, loop, eval_step, batch_iterator_fn, b_sh, vocabulary
        )
        step0 = int(jax.device_get(state.step))
        batches = batch_iterator_fn(
            loop.task_name, "train", loop.batch_size, loop.feature_lengths, seed=loop.seed,
            shuffle=loop.shuffle, repeat=True, pack=loop.pack, shard_index=jax.process_index(),
            num_shards=jax.process_count(), start_step=step0, vocabulary=vocabulary,
        )  # fmt: skip
        logger = MetricsLogger(loop.model_dir, loop.train_steps, step0)
        best = BestCheckpoint(loop.model_dir, val.best_metric, val.best_mode)
        saves = checkpoints.SaveWatcher(manager)
        health = Health(loop.divergence, loop.task_name, f"{loop.model_dir}/checkpoints")
        if step0 and loop.divergence.enabled:  # the same history on every process
            rows = multihost.from_process_0(metrics_logging.read_log(loop.model_dir))
            health.seed(rows, step0)
        state, step, metrics = _run_steps(
            state, step0, lambda s, local: jit_step(s, partitioning.global_batch(local, b_sh)),
            batches, evaluate, _Run(loop, ckpt, val, manager, logger, best, saves, health),
        )  # fmt: skip
        saves.join()
        manager.wait_until_finished()
        best.flush()
        manager.close()
        logger.close()
    if lock is not None:
        lock.release()
    last = {k: float(v) for k, v in jax.device_get(metrics).items()} if metrics else {}
    return {"step": step, "start": start, "last_metrics": last, "state": state}
