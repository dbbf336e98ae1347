"""Regenerate docs/tpu_plan.md: gin/recipe_math.gin's stages (SSFT, verifier, decode N = 64,
score) for each model on each topology, one `python -m mathft_jax.plan` subprocess a row.

    python -m mathft_jax.planning.table [--models llama3_1b,...] [--topologies v5e:2x2,...]
        [--stages ssft,verifier,decode,score] [--find_batch] [--results_dir docs/tpu_plan]
        [--output docs/tpu_plan.md] [--timeout 1800] [--redo] [--tuned_only]
        [--batch_only [--batch_resolution 128]]

Each row's JSON is kept in --results_dir, so a rerun only compiles the rows missing there; the page
is written from whatever is there, and lists the rows not yet computed. Compiles of the 8B model
take minutes each on a small host. A train row that fits neither by default nor with the
accumulation fallbacks is tried last with its gin/tpu/<model>_<topology>.gin where there is one
(`--tuned_only --redo` recomputes just those tries). `--batch_only` compiles no row: it runs the
largest-batch search for the train rows that have a JSON, with each row's arguments.
"""

import argparse
import json
import math
import pathlib
import subprocess
import sys
import time

from mathft_jax.planning import chips

MODELS = ("llama3_1b", "qwen2_5_1_5b", "gemma2_2b", "llama3_8b")
TOPOLOGIES = ("v5e:2x2", "v5e:4x4", "v5p:2x4x4", "v6e:2x4")
STAGES = ("ssft", "verifier", "decode", "score")
COMMON = ("--gin_file=gin/data/math.gin",)
# recipe_math.gin's figures for each stage (RecipeConfig.*_bindings).
STAGE_ARGS = {
    "ssft": ("train", ["--gin_file=gin/ssft.gin", *COMMON, "--gin.BATCH_SIZE=64"]),
    "verifier": ("train", [
        "--gin_file=gin/verifier_xent.gin", *COMMON, "--gin.BATCH_SIZE=64",
        "--gin.TASK_FEATURE_LENGTHS=%VERIFIER_FEATURE_LENGTHS",
    ]),
    "decode": ("decode", [
        "--gin_file=gin/decode.gin", "--gin.CHECKPOINT_PATH=x", "--gin.OUTPUT=y",
        "--gin.NUM_SAMPLES=64", "--gin.run_decode.max_prompt_len=512",
        "--gin.run_decode.max_decode_len=1024",
        # Layers kept scanned (`decoding.decoder_fns`): the same tokens, one layer body in the
        # program (unstacked, a 16-layer decode compile takes many minutes on a small host).
        "--gin.load_model.unstack_layers=False",
    ]),
    "score": ("score", [
        "--gin_file=gin/score.gin", "--gin.CHECKPOINT_PATH=x", "--gin.CANDIDATES=c",
        "--gin.OUTPUT=y", "--gin.run_score.max_len=1536", "--gin.run_score.batch_size=32",
    ]),
}  # fmt: skip
# Where the default (fsdp.gin, no accumulation) does not fit: the bindings that do, tried in order.
FALLBACKS = {
    "ssft": (["--gin.ACCUM_STEPS=2"], ["--gin.ACCUM_STEPS=4"], ["--gin.ACCUM_STEPS=8"]),
    "verifier": (["--gin.ACCUM_STEPS=2"], ["--gin.ACCUM_STEPS=4"], ["--gin.ACCUM_STEPS=8"]),
    # decode: fewer problems per call (`decode_fallbacks`). Not a bf16 cache: the compiled TPU
    # decode already keeps the f32 cache's bf16 values in bf16 buffers (docs/tpu_plan/notes.md).
    "decode": (),
    "score": (["--gin.run_score.batch_size=16"], ["--gin.run_score.batch_size=8"]),
}
TRAIN_STAGES = ("ssft", "verifier")
# A train row's last try where the fallbacks above do not fit: gin/tpu/<model>_<topology>.gin
# (e.g. gin/tpu/gemma2_2b_v5e_2x2.gin), the gin a job on that slice adds.
TUNED_GIN = "gin/tpu/{model}_{topology}.gin"


def tuned_gin(model: str, topology: str, stage: str) -> list[str]:
    """The row's gin/tpu/ file as a try (`--gin_file=...`), or nothing when it has none."""
    path = TUNED_GIN.format(model=model, topology=topology.replace(":", "_"))
    if stage not in TRAIN_STAGES or not pathlib.Path(path).exists():
        return []
    return [f"--gin_file={path}"]


def decode_batch(topology: str) -> int:
    """Problems per decode call: recipe_math's 8, or more where 8 does not divide over the chips
    (fsdp.gin splits the rows over all of them)."""
    return math.lcm(8, chips.num_chips(topology))


def decode_fallbacks(topology: str) -> list[list[str]]:
    """Where decode does not fit: half the problems per call, then a quarter, ... while that
    still divides over the chips (v5e:2x2: 4; none on 8 chips or more)."""
    n, batch, out = chips.num_chips(topology), decode_batch(topology) // 2, []
    while batch >= n and batch % n == 0:
        out.append([f"--gin.run_decode.batch_size={batch}"])
        batch //= 2
    return out


def row_tries(model: str, topology: str, stage: str, tuned_only: bool = False) -> list[list[str]]:
    """The extra arguments of each try, in order: the default, the fallbacks, the tuned gin."""
    tuned = tuned_gin(model, topology, stage)
    if tuned_only:
        return [tuned] if tuned else []
    fallbacks = decode_fallbacks(topology) if stage == "decode" else FALLBACKS[stage]
    return [[], *fallbacks, *([tuned] if tuned else [])]


def row_args(model: str, topology: str, stage: str, extra: list[str]) -> list[str]:
    kind, args = STAGE_ARGS[stage]
    args = [*args, f"--gin_file=gin/models/{model}.gin", "--gin_file=gin/partitioning/fsdp.gin"]
    if stage == "decode":  # problems per call must divide by the data shards (recipe: 8)
        args.append(f"--gin.run_decode.batch_size={decode_batch(topology)}")
    return ["--topology", topology, "--stage", kind, *args, *extra]


def run_row(model: str, topology: str, stage: str, out: pathlib.Path, find_batch: bool,
            timeout: float, tuned_only: bool = False) -> dict:  # fmt: skip
    """Plans one row (and its fallbacks while it does not fit); writes and returns its JSON."""
    tries = row_tries(model, topology, stage, tuned_only)
    result: dict = {}
    for extra in tries:
        args = row_args(model, topology, stage, extra)
        if find_batch and stage in ("ssft", "verifier"):
            args.append("--find_batch")
        path = out.with_suffix(".try.json")
        t0 = time.time()
        proc = subprocess.run(
            [sys.executable, "-m", "mathft_jax.plan", *args, f"--output={path}"],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if proc.returncode not in (0, 3) or not path.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            result = {"error": " | ".join(tail)[:500], "args": args}
            break
        result = json.loads(path.read_text())
        path.unlink()
        result.update(args=args, extra=extra, wall_seconds=round(time.time() - t0))
        print(proc.stdout, flush=True)
        if result["fits"]:
            break
    out.write_text(json.dumps(result, indent=1))
    return result


def search_batch(row: pathlib.Path, timeout: float, resolution: int = 0) -> dict:
    """The largest-batch search for a train row whose JSON exists, with the row's own arguments
    (its fallback included) and the row's figures as the start (not compiled again); stores
    `find_batch` into the row's JSON. A row whose parameters and optimizer state alone exceed HBM
    gets batch 0 without a compile. A search stopped by `timeout` (or killed) keeps the bounds
    its probes gave ("done": false)."""
    r = json.loads(row.read_text())
    fixed = (r.get("param_bytes") or 0) + (r.get("opt_state_bytes") or 0)
    if fixed > r["hbm_bytes"]:
        fb: dict = {"batch": 0, "upper": None, "exact": True, "done": True, "probes": [],
                    "reason": "parameters + optimizer state alone exceed HBM: no batch fits "
                    f"({fixed / chips.GiB:.2f} of {r['hbm_bytes'] / chips.GiB:.2f} GiB a chip)"}  # fmt: skip
    else:
        args = [a for a in r["args"] if a != "--find_batch"]
        args += ["--find_batch", f"--find_batch_from={row}"]
        if resolution:
            args.append(f"--batch_resolution={resolution}")
        path = row.with_suffix(".batch.json")
        t0 = time.time()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "mathft_jax.plan", *args, f"--output={path}"],
                capture_output=True, text=True, timeout=timeout, check=False,
            )  # fmt: skip
            print(proc.stdout, flush=True)
            ok = proc.returncode in (0, 3)
            err = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])[:500]
        except subprocess.TimeoutExpired:
            ok, err = True, None
            print(f"   search stopped after {timeout} s", flush=True)
        fb = json.loads(path.read_text()).get("find_batch") if path.exists() else None
        if fb is None:
            fb = {"error": err or "no result", "args": args}
        elif not ok:  # the search died or was killed: keep the bounds its probes gave
            fb.update(done=False, stopped=err)
        fb["wall_seconds"] = round(time.time() - t0)
        path.unlink(missing_ok=True)
    r = json.loads(row.read_text())
    r["find_batch"] = fb
    row.write_text(json.dumps(r, indent=1))
    return fb


def batch_cell(r: dict) -> str:
    """The largest-batch column: exact, a range where the search stopped short of exact, blank
    where not searched."""
    fb = r.get("find_batch")
    if not fb:
        return ""
    if "error" in fb:
        return "error"
    lo, hi = fb["batch"], fb.get("upper")
    if lo == 0 and fb.get("exact"):
        return "0 (none)"
    if fb.get("exact"):
        return str(lo)
    if hi is None:
        return f"≥ {lo}" + (" (capped)" if fb.get("capped_at") else " (stopped)")
    if not fb.get("done", True):
        return f"≥ {lo} (< {hi}; search stopped)"
    return f"≥ {lo} (< {hi}; resolution {fb.get('resolution')})"


def _gib(b) -> str:
    return "—" if b is None else f"{b / chips.GiB:.2f}"


def render(results_dir: pathlib.Path, models, topologies, stages, command: str) -> str:
    lines = [
        "# TPU plan: recipe_math's stages on TPU topologies",
        "",
        "Produced by the compile-only planner (`python -m mathft_jax.plan`, libtpu on a CPU host) "
        "for the stages of `gin/recipe_math.gin` with `gin/partitioning/fsdp.gin`: SSFT and the "
        "verifier (batch 64; 512 + 1024 and 1536 + 8 tokens), decode (N = 64 samples + greedy, "
        "512-token prompts, 1024 new tokens, KV cache) and verifier scoring (32 x 1536). "
        "Regenerate with:",
        "",
        f"    {command}",
        "",
        "GiB are per chip (compiled arguments + outputs - aliased + temporaries + code; where the "
        "compiler ran out of HBM, its temporaries + parameters + optimizer state); FLOPs are "
        "model FLOPs per step counted from the config (train: forward, backward and remat "
        "recompute); the roofline column is a LOWER BOUND on step time from the chip's bf16 peak "
        "and HBM bandwidth, not a measurement. `gin that fits` is what was added where the "
        "default did not fit (`none` where no fallback fits; the row's figures are then the "
        "last one's). Largest batch: the largest batch (a multiple of the batch shards x "
        "accumulation steps) whose compile fits, with the row's gin (`--find_batch`; `≥ A (< B)` "
        "where the search stopped short of exact; blank where not searched: the search sizes "
        "train steps, so decode and score rows have none).",
        "",
        "| model | topology | stage | fits | GiB / chip (HBM) | TFLOP / step | roofline bound | "
        "largest batch | gin that fits |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    missing = []
    for model in models:
        for topo in topologies:
            for stage in stages:
                path = results_dir / f"{model}__{topo.replace(':', '_')}__{stage}.json"
                if not path.exists():
                    missing.append(f"{model} {topo} {stage}")
                    continue
                r = json.loads(path.read_text())
                if "error" in r:
                    lines.append(
                        f"| {model} | {topo} | {stage} | error | | | | | {r['error'][:120]} |"
                    )
                    continue
                fits = "yes" if r["fits"] else "**no**"
                over = "" if r["fits"] else f" (over by {_gib(r.get('over_bytes'))})"
                gib = f"{_gib(r.get('total_bytes'))} ({_gib(r['hbm_bytes'])}){over}"
                tf = r["flops"]["total"] / 1e12
                bound = r["roofline_seconds_lower_bound"]
                fb = batch_cell(r)
                extra = " ".join(
                    a.replace("--gin.", "").replace("--gin_file=", "") for a in r.get("extra", [])
                )
                if not r["fits"]:  # every fallback was tried: none fits (figures: the last one)
                    extra = f"none (figures with the last tried: {extra})" if extra else "none"
                lines.append(
                    f"| {model} | {topo} | {stage} | {fits} | {gib} | {tf:.1f} | "
                    f"≥ {bound * 1e3:.0f} ms | {fb} | {extra} |"
                )
    notes = results_dir / "notes.md"
    if notes.exists():
        lines += ["", notes.read_text().rstrip()]
    if missing:
        lines += [
            "",
            "Rows not computed yet (run the command above; it skips the rows it has):",
            "",
        ]
        lines += [f"- {m}" for m in missing]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m mathft_jax.planning.table")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--topologies", default=",".join(TOPOLOGIES))
    p.add_argument("--stages", default=",".join(STAGES))
    p.add_argument("--find_batch", action="store_true")
    p.add_argument(
        "--batch_only", action="store_true",
        help="no row compiles: for train rows whose JSON exists and has no `find_batch` (all with "
        "--redo), search the largest batch with the row's arguments and store it in the JSON",
    )  # fmt: skip
    p.add_argument("--batch_resolution", type=int, default=0)
    p.add_argument("--results_dir", default="docs/tpu_plan")
    p.add_argument("--output", default="docs/tpu_plan.md")
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--render_only", action="store_true")
    p.add_argument(
        "--redo", action="store_true", help="recompute rows that have a JSON already (overwrite)"
    )
    p.add_argument(
        "--tuned_only", action="store_true",
        help="train rows: try only their gin/tpu/ file (where the default and fallbacks are "
        "known not to fit); rows without one are skipped",
    )  # fmt: skip
    a = p.parse_args(argv)
    models, topos, stages = (x.split(",") for x in (a.models, a.topologies, a.stages))
    results = pathlib.Path(a.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    for model in models:
        for topo in topos:
            for stage in stages:
                path = results / f"{model}__{topo.replace(':', '_')}__{stage}.json"
                if a.batch_only and not a.render_only:
                    if stage in TRAIN_STAGES and path.exists():
                        r = json.loads(path.read_text())
                        if "error" not in r and (a.redo or "find_batch" not in r):
                            print(f"== {model} {topo} {stage}: largest batch", flush=True)
                            search_batch(path, a.timeout, a.batch_resolution)
                            pathlib.Path(a.output).write_text(
                                render(results, MODELS, TOPOLOGIES, STAGES,
                                       "python -m mathft_jax.planning.table")
                            )  # fmt: skip
                    continue
                if a.render_only or (path.exists() and not a.redo):
                    continue
                if a.tuned_only and not tuned_gin(model, topo, stage):
                    continue
                print(f"== {model} {topo} {stage}", flush=True)
                try:
                    run_row(model, topo, stage, path, a.find_batch, a.timeout, a.tuned_only)
                except subprocess.TimeoutExpired:
                    print(f"   timed out after {a.timeout} s", flush=True)
                pathlib.Path(a.output).write_text(
                    render(
                        results, MODELS, TOPOLOGIES, STAGES, "python -m mathft_jax.planning.table"
                    )
                )
    pathlib.Path(a.output).write_text(
        render(results, MODELS, TOPOLOGIES, STAGES, "python -m mathft_jax.planning.table")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
