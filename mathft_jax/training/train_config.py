"""The knobs of one training stage, grouped by concept into gin-configurable frozen dataclasses.

`trainer.train` builds each from its gin bindings when not given one; gin/train_base.gin binds the
T5X macros to them (`TrainLoopConfig.model_dir = %MODEL_DIR`, ...), stage files add the rest:

    TrainLoopConfig.train_steps = %TRAIN_STEPS      # what is trained, on what, how long
    CheckpointConfig.every = 100                    # when checkpoints are written, which are kept
    ValidationConfig.every = 100                    # when validation runs, which checkpoint is best
"""

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import gin

# (params, step) -> extra validation metrics, e.g. `inference.hooks.greedy_pass_at_1_hook`.
EvalHook = Callable[[Any, int], dict[str, float]]


@gin.configurable
@dataclasses.dataclass(frozen=True)
class DivergenceGuard:
    """Stops a finite blow-up: loss or grad norm far above the median of its recent values.

    A checked value trips the guard when it exceeds `factor` x max(median of the last `window`
    checked values, `min_reference`), once `warmup_steps` values have been seen in this run.
    Values are checked every `TrainLoopConfig.nan_check_every` steps and before each save, so a
    tripped step is never saved and the last good checkpoint predates the blow-up.
    """

    enabled: bool = True
    loss_factor: float = 10.0  # loss > 10 x its median (and > 10 nats when the median is < 1)
    grad_norm_factor: float = 100.0  # grad norms spike more than losses in healthy runs
    min_reference: float = 1.0  # floor of the median: a tiny converged loss may wobble
    warmup_steps: int = 100  # checked values before it arms (a resume counts train_log rows)
    window: int = 50  # recent checked values the median is taken over
    stop: bool = True  # False: warn once and go on; a later NaN stop then names a checkpoint
    # saved before the first trip as the last good one


@gin.configurable
@dataclasses.dataclass(frozen=True)
class TrainLoopConfig:
    """What one stage trains, on which data, for how long, and how often it reports.

    The first six fields have no default: gin/train_base.gin binds them to the T5X macros
    MODEL_DIR, TRAIN_STEPS, MIXTURE_OR_TASK_NAME, TASK_FEATURE_LENGTHS, BATCH_SIZE; a stage file
    binds `stage`.
    """

    model_dir: str  # this stage's output folder (a gs:// URL stays a URL)
    stage: str  # name recorded with the checkpoints; resuming another stage's MODEL_DIR is refused
    train_steps: int  # optimizer updates in all (a resumed run continues up to this)
    task_name: str  # SeqIO task or mixture of the training batches
    feature_lengths: dict[str, int]  # {"inputs": ..., "targets": ...}
    batch_size: int  # global rows per step; divisible by batch shards x accum_steps
    accum_steps: int = 1  # microbatches per step (gradient accumulation)
    seed: int = 0  # init and data order
    shuffle: bool = True
    pack: bool = False
    log_every: int = 10  # steps per console/TensorBoard line (means over the window)
    nan_check_every: int = 1  # steps between finiteness checks (0: only before each save)
    divergence: DivergenceGuard = dataclasses.field(default_factory=DivergenceGuard)


@gin.configurable
@dataclasses.dataclass(frozen=True)
class CheckpointConfig:
    """Where a stage starts from, when it saves and what it keeps.

    Start precedence: MODEL_DIR's latest checkpoint of this stage > `initial_checkpoint_path`
    (params only, fresh optimizer) > random init (`checkpoints.decide_start`).
    """

    initial_checkpoint_path: str | None = None  # orbax step dir, earlier MODEL_DIR or HF folder
    allow_initial_mismatch: bool = False  # resume even if run_info names another initial ckpt
    every: int = 100  # steps between saves (also saved after each validation); 0: never
    keep_last: int = 2  # latest checkpoints kept (plus the best by ValidationConfig.best_metric)


@gin.configurable
@dataclasses.dataclass(frozen=True)
class ValidationConfig:
    """When validation runs, on what, and which metric picks the stage's best checkpoint."""

    every: int = 0  # steps between validations (and at the last step); 0: never
    task_name: str | None = None  # None: TrainLoopConfig.task_name
    split: str = "validation"
    batches: int = 8  # batches per validation (weighted mean over them)
    hooks: Sequence[EvalHook] = ()  # extra metrics, logged as validation/<name>
    best_metric: str | None = "validation/loss"  # None: no best checkpoint is tracked
    best_mode: str = "min"  # "min"; anything else is "max". Ties go to the later step

    def due(self, step: int, train_steps: int) -> bool:
        """Whether validation runs after `step`."""
        return bool(self.every) and (step % self.every == 0 or step == train_steps)
