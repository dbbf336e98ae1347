"""Pretrain a small base model on a synthetic corpus and ship it as an HF folder.

    python -m mathft_jax.recipe --gin_file=gin/base_tiny_mod10.gin

The paper fine-tunes a pretrained LLM, which already knows arithmetic; the smoke run's tiny model
learns its mod-10 tables from random weights only in a late jump (gin/data/mod10.gin), so the
smoke recipe starts from a base pretrained here instead. The phases (`BaseModelConfig.phases`)
train one after another with `python -m mathft_jax.train`, each from the last one's final step
(a curriculum: sums first, then sums and differences); the last checkpoint is written to
`output_dir` as `config.json` + `model.safetensors` with `PROVENANCE.json` (the command, the
commit, every phase's settings and final validation loss) beside it.
"""

import dataclasses
import json
import subprocess
import time
from collections.abc import Sequence
from typing import Any

import gin
from etils import epath

from mathft_jax.recipes import paper


@gin.configurable
@dataclasses.dataclass
class BaseModelConfig:
    """One base model: its model gin, its corpus (in `common_gin_files`), its training phases."""

    work_dir: str = "runs/base"
    output_dir: str = "runs/base/hf"
    model_gin: str = "models/tiny.gin"
    train_gin: str = "ssft.gin"
    common_gin_files: Sequence[str] = ()
    common_bindings: Sequence[str] = ()  # every phase's (the corpus task, lengths, batch, ...)
    # Bindings of each phase (TRAIN_STEPS, the corpus's settings, ...); each starts from the last.
    phases: Sequence[Sequence[str]] = ()


def _last_step(model_dir: epath.Path) -> tuple[str, int]:
    steps = sorted(int(p.name) for p in (model_dir / "checkpoints").iterdir() if p.name.isdigit())
    if not steps:
        raise FileNotFoundError(f"{model_dir}/checkpoints holds no finished step")
    return str(model_dir / "checkpoints" / str(steps[-1])), steps[-1]


def _final_validation(model_dir: epath.Path) -> dict[str, Any] | None:
    """The last validation record of the phase's `train_log.jsonl` (the loss it ended at)."""
    log = model_dir / "train_log.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    validation = [r for r in rows if any(k.startswith("validation/") for k in r)]
    return {k: v for k, v in validation[-1].items() if k != "step"} if validation else None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def checkpoint_to_hf(checkpoint: str, model_gin: str, output_dir: str) -> None:
    """Writes an orbax checkpoint of the `model_gin` model as an HF folder (config + weights)."""
    from mathft_jax.models import config, hf_io
    from mathft_jax.runtime import checkpoints

    cfg = config.config_from_gin_file(model_gin)
    hf_io.save_hf_checkpoint(output_dir, cfg, checkpoints.load_params(checkpoint, model_config=cfg))


def run_base_model(cfg: BaseModelConfig, argv: Sequence[str] = ()) -> str:
    """Trains the phases in `work_dir/phase<i>`, writes the HF folder; returns its path."""
    if not cfg.phases:
        raise ValueError("BaseModelConfig.phases is empty: give each phase's bindings")
    work = epath.Path(cfg.work_dir)
    start, init, record = time.time(), None, []
    for i, bindings in enumerate(cfg.phases):
        name = f"phase{i}"
        model_dir = work / name / "model"
        binds = [
            f"MODEL_DIR={paper._quote(model_dir)}",
            f"INITIAL_CHECKPOINT_PATH={paper._quote(init) if init else None}",
            *cfg.common_bindings,
            *bindings,
        ]
        files = [cfg.train_gin, cfg.model_gin, *cfg.common_gin_files]
        paper.run_stage(name, work, "mathft_jax.train", paper._gin_args(files, binds))
        init, step = _last_step(model_dir)
        validation = _final_validation(model_dir)
        record.append({"bindings": list(bindings), "final_step": step, "validation": validation})
    checkpoint_to_hf(init, cfg.model_gin, cfg.output_dir)
    provenance = {
        "made_by": " ".join(["python -m mathft_jax.recipe", *argv]),
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(_git("status", "--porcelain")),
        "model_gin": cfg.model_gin,
        "train_gin": cfg.train_gin,
        "common_gin_files": list(cfg.common_gin_files),
        "phases": record,
        "wall_seconds": round(time.time() - start, 1),
    }
    out = epath.Path(cfg.output_dir) / "PROVENANCE.json"
    out.write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"[base] wrote {cfg.output_dir} ({out.name}: {len(record)} phases)", flush=True)
    return cfg.output_dir
