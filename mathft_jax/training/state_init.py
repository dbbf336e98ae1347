"""The train state's layout (shapes and shardings, built once) and where a stage's state comes from.

Start precedence (logged loudly): resume from MODEL_DIR's latest checkpoint of this stage >
INITIAL_CHECKPOINT_PATH (params only, fresh optimizer) > random init; see `checkpoints.decide_start`.
Call these inside `jax.set_mesh(mesh)` and the logical axis rules.

    python -m pytest -q tests/training/test_trainer.py
"""

import dataclasses
import logging
import os
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mathft_jax import paths_io
from mathft_jax.models import ModelConfig, transformer
from mathft_jax.runtime import checkpoints, partitioning
from mathft_jax.training.train_config import CheckpointConfig, TrainLoopConfig
from mathft_jax.training.train_state import TrainState

log = logging.getLogger("mathft_jax.train")


@dataclasses.dataclass(frozen=True)
class StateLayout:
    """The train state's shapes (`jax.ShapeDtypeStruct` leaves) and shardings, as two TrainStates."""

    abstract: TrainState
    shardings: TrainState

    @property
    def replicated(self) -> NamedSharding:
        """The sharding of the step counter (and of every metric)."""
        return self.shardings.step

    def restore_target(self) -> TrainState:
        """Shapes carrying their shardings: what `checkpoints.restore` restores into."""
        return jax.tree.map(
            lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
            self.abstract,
            self.shardings,
        )


def state_layout(
    cfg: ModelConfig, tx: optax.GradientTransformation, mesh: Mesh, rules: Any
) -> StateLayout:
    """Shapes of params and optimizer state, and their shardings from the logical axis rules."""
    params = transformer.abstract_params(cfg)
    opt_state = jax.eval_shape(tx.init, params)
    p_sh = partitioning.param_shardings(params, transformer.param_logical_axes(cfg), mesh, rules)
    o_sh = partitioning.opt_state_shardings(opt_state, params, p_sh, mesh)
    replicated = NamedSharding(mesh, PartitionSpec())
    return StateLayout(
        abstract=TrainState(
            step=jax.ShapeDtypeStruct((), jnp.int32), params=params, opt_state=opt_state
        ),
        shardings=TrainState(step=replicated, params=p_sh, opt_state=o_sh),
    )


def _state(step: int, params: Any, opt_state: Any, layout: StateLayout) -> TrainState:
    step_array = jax.device_put(jnp.asarray(step, jnp.int32), layout.replicated)
    return TrainState(step=step_array, params=params, opt_state=opt_state)


def start_state(
    layout: StateLayout,
    manager: Any,
    cfg: ModelConfig,
    tx: optax.GradientTransformation,
    loop: TrainLoopConfig,
    ckpt: CheckpointConfig,
) -> tuple[str, TrainState]:
    """(start, state): start is "resume", "initial" or "scratch" (`checkpoints.decide_start`).

    A fresh start (initial or scratch) records the stage and its initial checkpoint in
    MODEL_DIR/run_info.json, which later resumes check against.
    """
    latest = manager.latest_step()
    start, reason = checkpoints.decide_start(
        loop.model_dir, loop.stage, ckpt.initial_checkpoint_path, latest,
        ckpt.allow_initial_mismatch,
    )  # fmt: skip
    log.warning("%s", reason)
    if start == "resume":
        step, params, opt_state = checkpoints.restore_newest_good(
            manager, layout.restore_target(), checkpoints.model_gin_file()
        )
        return start, _state(step, params, opt_state, layout)
    p_sh = layout.shardings.params
    if start == "initial":
        params = checkpoints.load_params(ckpt.initial_checkpoint_path, p_sh, cfg)
    else:
        init = jax.jit(lambda r: transformer.init_params(cfg, r), out_shardings=p_sh)
        params = init(jax.random.key(loop.seed))
    opt_state = jax.jit(tx.init, out_shardings=layout.shardings.opt_state)(params)
    initial = paths_io.normalize(ckpt.initial_checkpoint_path) if start == "initial" else None
    info = {"stage": loop.stage, "initial_checkpoint": initial}
    checkpoints.write_json(os.path.join(loop.model_dir, checkpoints.RUN_INFO), info)
    return start, _state(0, params, opt_state, layout)
