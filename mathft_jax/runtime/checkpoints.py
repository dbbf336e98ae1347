"""Orbax checkpoints of a stage, the resume/initial-checkpoint precedence, and `load_params`.

Layout of a stage's MODEL_DIR:
  checkpoints/<step>/{params,opt_state}   orbax steps (async, atomic finalize; last K + best kept)
  run_info.json                           {"stage", "initial_checkpoint"} written on a fresh start
  best_checkpoint.json                    {"step", "metric", "value", "path"} of the best so far
A half-written step keeps orbax's temporary name until finalized, so it is never listed as a step.
MODEL_DIR may be a URL (gs://bucket/runs/ssft): paths go through `mathft_jax.paths_io` (etils.epath).

    python -m pytest -q tests/training/test_trainer.py tests/runtime
"""

import dataclasses
import logging
import os
from typing import Any

import jax
import orbax.checkpoint as ocp

from mathft_jax import paths_io

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
RUN_INFO = "run_info.json"
BEST = "best_checkpoint.json"


def make_manager(
    model_dir: str, keep_last: int = 2, best_metric: str | None = None, best_mode: str = "min"
) -> ocp.CheckpointManager:
    """Async manager keeping the `keep_last` latest steps and the best by `best_metric`."""
    pp = ocp.checkpoint_managers.preservation_policy
    policies = [pp.LatestN(n=keep_last)]
    if best_metric:
        policies.append(
            pp.BestN(
                get_metric_fn=lambda m: m[best_metric],
                reverse=best_mode == "min",
                n=1,
                keep_checkpoints_without_metrics=False,
            )
        )
    options = ocp.CheckpointManagerOptions(
        preservation_policy=pp.AnyPreservationPolicy(policies),
        enable_async_checkpointing=True,
        create=True,
    )
    return ocp.CheckpointManager(
        os.path.join(paths_io.normalize(model_dir), CHECKPOINTS),
        item_names=("params", "opt_state"),
        options=options,
    )


def save(
    manager: ocp.CheckpointManager, step: int, state: Any, metrics: dict | None = None, force=False
) -> bool:
    """Starts an async save of params and optimizer state (data position = step)."""
    args = ocp.args.Composite(
        params=ocp.args.StandardSave(state.params),
        opt_state=ocp.args.StandardSave(state.opt_state),
    )
    return manager.save(step, args=args, metrics=metrics, force=force)


def restore(manager: ocp.CheckpointManager, step: int, abstract_state: Any) -> tuple[Any, Any]:
    """(params, opt_state) of `step`, placed like the abstract arrays (ShapeDtypeStruct+sharding)."""
    out = manager.restore(
        step,
        args=ocp.args.Composite(
            params=ocp.args.StandardRestore(abstract_state.params),
            opt_state=ocp.args.StandardRestore(abstract_state.opt_state),
        ),
    )
    return out["params"], out["opt_state"]


def read_json(path: str) -> dict | None:
    """The JSON object in `path` (local or gs://), or None when there is none."""
    return paths_io.read_json(path)


def write_json(path: str, obj: dict) -> None:
    """Atomic write (tmp + rename) so a crash never leaves half a JSON file; process 0 only."""
    if jax.process_index() != 0:
        return
    paths_io.write_json(path, obj)


def decide_start(
    model_dir: str,
    stage: str,
    initial_checkpoint: str | None,
    latest_step: int | None,
    allow_initial_mismatch: bool = False,
) -> tuple[str, str]:
    """Which start a run takes: ("resume" | "initial" | "scratch", reason), logged loudly.

    Resume only when MODEL_DIR holds a checkpoint of *this* stage. A different stage's checkpoints
    in MODEL_DIR are an error (chain stages through INITIAL_CHECKPOINT_PATH, each in its own dir).
    On resume, an INITIAL_CHECKPOINT_PATH other than the recorded one is refused (or, with
    `allow_initial_mismatch`, warned about), since it would be silently ignored.
    """
    info = read_json(os.path.join(model_dir, RUN_INFO))
    init = paths_io.normalize(initial_checkpoint) if initial_checkpoint else None
    if latest_step is not None:
        recorded_stage = (info or {}).get("stage")
        if recorded_stage != stage:
            raise ValueError(
                f"MODEL_DIR={model_dir} holds checkpoints of stage {recorded_stage!r}, not {stage!r}; "
                "give this stage its own MODEL_DIR and start it via INITIAL_CHECKPOINT_PATH"
            )
        recorded = (info or {}).get("initial_checkpoint")
        if init and init != recorded:
            msg = (
                f"resuming {model_dir} at step {latest_step}, which started from {recorded!r}, but "
                f"INITIAL_CHECKPOINT_PATH={init!r} was given and will be IGNORED"
            )
            if not allow_initial_mismatch:
                raise ValueError(msg + "; use a new MODEL_DIR or drop the flag")
            log.warning(msg)
        reason = f"RESUMING from {model_dir} step {latest_step} (checkpoint of stage {stage!r})"
        return "resume", reason
    if init:
        return (
            "initial",
            f"STARTING from INITIAL_CHECKPOINT_PATH={init} (no checkpoint in {model_dir})",
        )
    return "scratch", f"STARTING from random init (no checkpoint in {model_dir}, no initial path)"


def _step_dir(path: str) -> str:
    """An orbax step dir for `path`: itself, or a MODEL_DIR's best (else latest) step."""
    path = paths_io.normalize(path)
    if paths_io.isdir(os.path.join(path, "params")):
        return path
    best = read_json(os.path.join(path, BEST))
    if best and paths_io.isdir(best["path"]):
        return best["path"]
    if best:
        log.warning("%s names step %s, which is gone; taking the latest step", BEST, best["step"])
    root = os.path.join(path, CHECKPOINTS)
    if paths_io.isdir(root):
        steps = ocp.utils.checkpoint_steps(root)
        if steps:
            return os.path.join(root, str(max(steps)))
    raise ValueError(
        f"{path} is neither an orbax step dir (with params/), a MODEL_DIR with checkpoints, nor an "
        "HF checkpoint folder"
    )


# ModelConfig fields that are ours to choose for an HF checkpoint (how to run it, not what it is).
RUNTIME_FIELDS = ("dtype", "param_dtype", "remat", "remat_policy", "scan_layers")
# Fields an HF config.json may leave at a default the gin model file need not repeat.
_UNCHECKED_FIELDS = {*RUNTIME_FIELDS, "max_position_embeddings"}


def _load_hf(path: str, shardings: Any, model_config: Any) -> Any:
    """HF folder -> params laid out for `model_config` (its dtypes, scan/remat), which must
    describe the same architecture as the folder's config.json."""
    from mathft_jax.models import hf_io  # noqa: PLC0415

    if model_config is None:
        return hf_io.load_hf_checkpoint(path, shardings=shardings)[1]
    overrides = {f: getattr(model_config, f) for f in RUNTIME_FIELDS}
    hf_cfg = hf_io.load_hf_config(path, **overrides)
    diffs = [
        f"{f.name}: gin {getattr(model_config, f.name)!r} vs config.json {getattr(hf_cfg, f.name)!r}"
        for f in dataclasses.fields(model_config)
        if f.name not in _UNCHECKED_FIELDS
        and getattr(model_config, f.name) != getattr(hf_cfg, f.name)
    ]
    if diffs:
        raise ValueError(
            f"the gin model config does not match {path}/config.json ({'; '.join(diffs)}): "
            "include the gin/models/*.gin file of this checkpoint"
        )
    return hf_io.load_hf_checkpoint(path, shardings=shardings, **overrides)[1]


def load_params(path: str, shardings: Any = None, model_config: Any = None) -> Any:
    """Params from an orbax step dir, a MODEL_DIR (its best, else latest step) or an HF folder.

    `shardings` (a pytree of NamedSharding like the params) places them; else default device.
    `model_config` (our `ModelConfig`), for an HF folder: the dtypes and layer layout to load
    into, and a check that the folder holds that architecture.
    """
    if not paths_io.exists(path):
        raise ValueError(f"checkpoint path {path} does not exist")
    from mathft_jax.models import hf_io  # noqa: PLC0415

    if hf_io.is_hf_checkpoint(path):
        return _load_hf(path, shardings, model_config)
    step_dir = os.path.join(_step_dir(path), "params")
    checkpointer = ocp.StandardCheckpointer()
    meta = checkpointer.metadata(step_dir)
    tree = getattr(meta, "item_metadata", None) or meta
    tree = getattr(tree, "tree", tree)  # orbax's metadata wrapper -> plain nested dict
    if shardings is None:
        device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        target = jax.tree.map(
            lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), tree
        )
    else:
        target = jax.tree.map(
            lambda m, s: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=s), tree, shardings
        )
    log.info("loading params from %s", step_dir)
    return checkpointer.restore(step_dir, target)
