"""Orbax checkpoints of a stage, the resume/initial-checkpoint precedence, and `load_params`.

Layout of a stage's MODEL_DIR:
  checkpoints/<step>/{params,opt_state}   orbax steps (async, atomic finalize; last K + best kept)
  checkpoints/<step>/manifest.json        {relative file: [size, crc32]}, written once the step is
                                          final; checked before a restore (older steps lack it)
  run_info.json                           {"stage", "initial_checkpoint"} written on a fresh start
  best_checkpoint.json                    {"step", "metric", "value", "path"} of the best so far
A half-written step keeps orbax's temporary name until finalized, so it is never listed as a step.
MODEL_DIR may be a URL (gs://bucket/runs/ssft): paths go through `mathft_jax.paths_io` (etils.epath).

    python -m pytest -q tests/training/test_trainer.py tests/runtime
"""

import dataclasses
import logging
import os
import re
import threading
import zlib
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

from mathft_jax import paths_io
from mathft_jax.errors import BadCheckpoint, JobError

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
RUN_INFO = "run_info.json"
BEST = "best_checkpoint.json"
MANIFEST = "manifest.json"


class CheckpointError(JobError):
    """A save that failed, or no checkpoint that restores: one line naming the path."""


def _one_line(err: BaseException) -> str:
    """The OS error behind `err` if there is one ("[Errno 28] No space left on device: 'x'"),
    else the first line of the innermost cause: orbax/tensorstore messages run to many lines."""
    seen, cur, inner = set(), err, err
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno:
            return str(cur)
        inner = cur
        cur = cur.__cause__ or cur.__context__
    code = re.search(r"os_error_code='?(\d+)", str(err))  # tensorstore's OS errors
    if code:
        return f"[Errno {code[1]}] {os.strerror(int(code[1]))}"
    text = (str(inner).strip().splitlines() or [""])[0][:300]
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__


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


def step_dir(manager: ocp.CheckpointManager, step: int) -> str:
    """The folder of `step` (local path or URL)."""
    return os.path.join(str(manager.directory), str(step))


def _files(root: str) -> list[tuple[str, Any]]:
    """(relative path, epath) of every file under `root` but the manifest (walked level by
    level: etils has no recursive glob on gs://)."""
    out, todo = [], [(paths_io.as_path(root), "")]
    while todo:
        folder, prefix = todo.pop()
        for p in folder.iterdir():
            rel = prefix + p.name
            if p.is_dir():
                todo.append((p, rel + "/"))
            elif rel != MANIFEST:
                out.append((rel, p))
    return sorted(out)


def _crc32(path: Any) -> str:
    crc = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 24):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}"


def write_manifest(root: str) -> None:
    """Records size and CRC32 of every file of a finalized step in `root/manifest.json`."""
    files = {rel: [p.stat().length, _crc32(p)] for rel, p in _files(root)}
    paths_io.write_json(os.path.join(root, MANIFEST), {"files": files}, indent=None)


def verify_manifest(root: str) -> str | None:
    """What is wrong with the step in `root` by its manifest (a missing, resized or changed file),
    or None when it matches. A step without a manifest (older runs) passes, with a note."""
    manifest = read_json(os.path.join(root, MANIFEST))
    if manifest is None:
        log.info("%s has no %s (written by an older run): not verified", root, MANIFEST)
        return None
    present = dict(_files(root))
    for rel, (size, crc) in manifest["files"].items():
        path = present.get(rel)
        if path is None:
            return f"{rel} is missing"
        actual = path.stat().length
        if actual != size:
            return f"{rel} has {actual} bytes, {size} when saved (truncated?)"
        if _crc32(path) != crc:
            return f"{rel} differs from what was saved (CRC32 mismatch)"
    return None


class SaveWatcher:
    """Follows each async save in a background thread: waits for orbax to finalize the step, then
    writes its manifest (process 0). A failure is recorded; the loop calls `check()` every step
    (an attribute read), so a full disk stops training at once, not at the next save."""

    def __init__(self, manager: ocp.CheckpointManager) -> None:
        self._manager = manager
        self._thread: threading.Thread | None = None
        self._failure: str | None = None

    def started(self, step: int) -> None:
        """Call right after `save` returned for `step`."""
        self.join()
        self._thread = threading.Thread(
            target=self._follow, args=(step,), name=f"checkpoint-{step}", daemon=True
        )
        self._thread.start()

    def _follow(self, step: int) -> None:
        root = step_dir(self._manager, step)
        try:
            self._manager.wait_until_finished()
        except BaseException as err:  # noqa: BLE001  (recorded, raised by the loop's check)
            self._failure = f"saving checkpoint step {step} to {root} failed: {_one_line(err)}"
            return
        if jax.process_index() != 0:
            return
        try:
            write_manifest(root)
        except Exception as err:  # noqa: BLE001  (the step itself is fine; it just goes unchecked)
            log.warning("no %s for %s: %s", MANIFEST, root, _one_line(err))

    def check(self) -> None:
        """Raises CheckpointError (one line: step, path, OS error) if a save has failed."""
        if self._failure:
            raise CheckpointError(self._failure + "; earlier checkpoints are intact")

    def join(self) -> None:
        """Waits for the save in flight (and its manifest), then `check()`s."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.check()


def _leaf_paths(tree: Any) -> dict[str, tuple[int, ...]]:
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {
        "/".join(str(getattr(k, "key", getattr(k, "name", k))) for k in path): tuple(leaf.shape)
        for path, leaf in leaves
    }


def check_param_shapes(stored: Any, expected: Any, source: str, model_gin: str | None) -> None:
    """Raises BadCheckpoint (a ValueError) naming the first parameter whose stored shape (orbax
    metadata of `source`) differs from the model config's, the checkpoint, and the gin file to
    check."""
    have, want = _leaf_paths(stored), _leaf_paths(expected)
    where = f"the model config ({model_gin}?)" if model_gin else "the model config"
    hint = "; check the model --gin_file (gin/models/*.gin) this checkpoint was trained with"
    for name, shape in want.items():
        if name not in have:
            raise BadCheckpoint(
                f"checkpoint {source}: param {name} of {where} is not stored" + hint
            )
        if have[name] != shape:
            raise BadCheckpoint(
                f"checkpoint {source}: param {name} is {list(have[name])} stored but "
                f"{list(shape)} in {where}" + hint
            )
    extra = sorted(set(have) - set(want))
    if extra:
        raise BadCheckpoint(f"checkpoint {source}: param {extra[0]} is not in {where}" + hint)


def stored_params(params_dir: str) -> Any:
    """The orbax metadata tree (shape, dtype per leaf) of a saved params item."""
    meta = ocp.StandardCheckpointer().metadata(params_dir)
    tree = getattr(meta, "item_metadata", None) or meta
    return getattr(tree, "tree", tree)  # orbax's metadata wrapper -> plain nested dict


def count_nonfinite(tree: Any) -> int:
    """Non-finite entries over the floating-point leaves of `tree` (sharded arrays are fine)."""
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)]
    return int(jax.jit(lambda xs: sum(jnp.sum(~jnp.isfinite(x)) for x in xs))(leaves))


def _set_aside(manager: ocp.CheckpointManager, steps: list[int]) -> None:
    """Renames unusable steps to `<step>.unusable` (kept for a look, no longer listed) so the run
    can save those steps anew."""
    from mathft_jax.runtime import multihost

    if jax.process_index() == 0:
        for step in steps:
            root = step_dir(manager, step)
            aside = paths_io.as_path(root + ".unusable")
            if aside.exists():
                aside.rmtree()
            paths_io.as_path(root).rename(aside)
            log.warning("set %s aside as %s", root, aside)
    multihost.from_process_0(0)  # every process waits for the renames
    manager.reload()


def restore_newest_good(
    manager: ocp.CheckpointManager,
    abstract_state: Any,
    model_gin: str | None = None,
    restore_fn: Callable[[ocp.CheckpointManager, int, Any], tuple[Any, Any]] | None = None,
) -> tuple[int, Any, Any]:
    """(step, params, opt_state) of the newest step that passes its manifest, restores, and
    holds only finite params. A step that does not is named in a warning and the next older one
    is tried; when none is left, CheckpointError lists each step's fault. A param shape that
    differs from the model config (`check_param_shapes`) is a config error: raised at once."""
    restore_fn = restore_fn or restore
    faults, bad_steps = [], []
    for step in sorted(manager.all_steps(), reverse=True):
        root = step_dir(manager, step)
        fault = verify_manifest(root)
        if fault is None:
            try:
                stored = stored_params(os.path.join(root, "params"))
            except Exception as err:  # noqa: BLE001
                fault = f"unreadable metadata: {_one_line(err)}"
            else:
                check_param_shapes(stored, abstract_state.params, root, model_gin)
        if fault is None:
            try:
                params, opt_state = restore_fn(manager, step, abstract_state)
            except Exception as err:  # noqa: BLE001
                fault = f"restore failed: {_one_line(err)}"
            else:
                bad = count_nonfinite(params)
                if not bad:
                    if faults:
                        _set_aside(manager, bad_steps)
                        log.warning("resuming from step %d, the newest usable checkpoint", step)
                    return step, params, opt_state
                fault = f"{bad} non-finite parameter values"
        faults.append(f"step {step}: {fault}")
        bad_steps.append(step)
        log.warning("checkpoint %s is unusable (%s); trying the previous step", root, fault)
    raise CheckpointError(
        f"no usable checkpoint in {manager.directory} ({'; '.join(faults)}); move the "
        "checkpoints folder aside to start over, or restore it from a copy"
    )


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
RUNTIME_FIELDS = ("dtype", "param_dtype", "remat", "remat_policy", "scan_layers", "scan_unroll")
# Fields an HF config.json may leave at a default the gin model file need not repeat.
_UNCHECKED_FIELDS = {*RUNTIME_FIELDS, "max_position_embeddings"}


def _load_hf(path: str, shardings: Any, model_config: Any) -> Any:
    """HF folder -> params laid out for `model_config` (its dtypes, scan/remat), which must
    describe the same architecture as the folder's config.json."""
    from mathft_jax.models import hf_io

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
    from mathft_jax.models import hf_io

    if hf_io.is_hf_checkpoint(path):
        return _load_hf(path, shardings, model_config)
    root = _step_dir(path)
    fault = verify_manifest(root)
    if fault:
        raise CheckpointError(f"checkpoint {root} is corrupt: {fault}")
    params_dir = os.path.join(root, "params")
    tree = stored_params(params_dir)
    if model_config is not None:
        from mathft_jax.models import transformer

        expected = transformer.abstract_params(model_config)
        check_param_shapes(tree, expected, root, model_gin_file())
    if shardings is None:
        device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        target = jax.tree.map(
            lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), tree
        )
    else:
        target = jax.tree.map(
            lambda m, s: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=s), tree, shardings
        )
    log.info("loading params from %s", params_dir)
    return ocp.StandardCheckpointer().restore(params_dir, target)


def model_gin_file() -> str | None:
    """The gin/models/*.gin file this job was given (for hints), if any."""
    from mathft_jax import gin_flags

    return next((f for f in reversed(gin_flags.GIN_FILES) if "models/" in f), None)
