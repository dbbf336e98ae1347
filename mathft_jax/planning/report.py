"""Compile a lowered step for a topology and report per chip: memory against HBM, model FLOPs, a
roofline lower bound on its time, and the collectives of the compiled program.

`cost_analysis()` is not used: with the layer scan it counts the loop body once.
"""

import re
import time
from collections.abc import Callable
from typing import Any

from mathft_jax.planning import chips, flops, hlo, steps

GiB = chips.GiB
_OOM = re.compile(r"(RESOURCE_EXHAUSTED|exceeds available HBM|[Oo]ut of memory|Ran out of memory)")
_FIG = re.compile(
    r"required for HLO temporaries \(([\d.]+)([KMGT])\)|([\d.]+)([KMGT]) of (?:\d|HBM)"
)
_UNIT = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def _oom_bytes(msg: str) -> float | None:
    m = re.search(r"\(([\d.]+)([KMGT])\) exceeds available HBM", msg) or re.search(
        r"Used ([\d.]+)([KMGT]) of", msg
    )
    return float(m.group(1)) * _UNIT[m.group(2)] if m else None


def plan_stage(topology: str, stage: str, batch_size: int | None = None, **kw: Any) -> dict:
    """Lower and compile one stage; a compile that runs out of HBM is reported as not fitting."""
    chip, _ = chips.parse_topology(topology)
    devices = chips.topology_devices(topology)
    low = steps.LOWER[stage](devices, topology, batch_size, **kw)
    n = len(devices)
    out: dict[str, Any] = {
        "topology": topology, "chip": chip.name, "chips": n, "stage": stage,
        "mesh": dict(low.mesh.shape), "batch": low.batch, "length": low.length,
        "model": _model_name(low.cfg), "hbm_bytes": chip.hbm_bytes, **low.details,
        "param_bytes": low.param_bytes, "opt_state_bytes": low.opt_state_bytes,
        "cache_bytes": low.cache_bytes,
    }  # fmt: skip
    t0 = time.time()
    try:
        compiled = low.lowered.compile()
    except Exception as e:  # XLA reports HBM exhaustion as an error at compile time
        msg = str(e)
        if not _OOM.search(msg):
            raise
        temp = _oom_bytes(msg)  # the compiler's figure: temporaries alone
        need = None if temp is None else temp + low.param_bytes + low.opt_state_bytes
        out.update(
            fits=False, compile_error=msg.strip().splitlines()[0][:400], temp_bytes_oom=temp,
            total_bytes=need, compile_seconds=round(time.time() - t0, 1),
            over_bytes=(need - chip.hbm_bytes) if need else None,
        )  # fmt: skip
        _add_flops(out, low, chip, None)
        return out
    out["compile_seconds"] = round(time.time() - t0, 1)
    mem = compiled.memory_analysis()
    arg, res = mem.argument_size_in_bytes, mem.output_size_in_bytes
    alias, temp = mem.alias_size_in_bytes, mem.temp_size_in_bytes
    code = mem.generated_code_size_in_bytes
    total = arg + res - alias + temp + code
    out.update(
        argument_bytes=arg, output_bytes=res, alias_bytes=alias, temp_bytes=temp,
        code_bytes=code, total_bytes=total, fits=total <= chip.hbm_bytes,
        over_bytes=max(0, total - chip.hbm_bytes),
        collectives=hlo.collectives(compiled.as_text()),
    )  # fmt: skip
    _add_flops(out, low, chip, total)
    return out


def _model_name(cfg: Any) -> str:
    return f"{cfg.family} {cfg.num_params() / 1e9:.2f}B" if hasattr(cfg, "num_params") else "?"


def _add_flops(out: dict, low: steps.Lowered, chip: chips.Chip, total: float | None) -> None:
    n = out["chips"]
    f = low.flops
    out["flops"] = f
    per_chip = f["total"] / n
    # Bytes that must cross HBM at least once: the step's state (read, and written for train) and
    # for decode the weights and cache once per generated token.
    if low.stage == "decode":
        d = low.details
        weights = low.param_bytes * n / max(1, low.mesh.shape.get("tensor", 1)) / n
        hbm = d["decode_len"] * (weights + low.cache_bytes)
    elif low.stage == "train":
        hbm = 2 * (low.param_bytes + low.opt_state_bytes) + low.param_bytes
    else:
        hbm = low.param_bytes
    out["roofline_seconds_lower_bound"] = flops.roofline_seconds(per_chip, hbm, chip)
    out["roofline_hbm_bytes"] = hbm


def _g(b: float | None) -> str:
    if b is None:
        return "?"
    return f"{b / GiB:.2f} GiB" if b >= GiB / 10 else f"{b / 1024**2:.1f} MiB"


def format_report(r: dict) -> str:
    """The human-readable lines `python -m mathft_jax.plan` prints."""
    lines = [
        f"{r['stage']} on {r['topology']} ({r['chips']} x {r['chip']}, HBM {_g(r['hbm_bytes'])} a "
        f"chip), mesh {r['mesh']}, model {r['model']}, batch {r['batch']} x {r['length']}",
        f"  per chip: parameters {_g(r['param_bytes'])}, optimizer state "
        f"{_g(r['opt_state_bytes'])}, KV cache {_g(r['cache_bytes'])}",
    ]
    if "temp_bytes" in r:
        lines.append(
            f"  compiled: arguments {_g(r['argument_bytes'])}, outputs {_g(r['output_bytes'])} "
            f"(aliased {_g(r['alias_bytes'])}), temporaries {_g(r['temp_bytes'])}, code "
            f"{_g(r['code_bytes'])}; total {_g(r['total_bytes'])} of {_g(r['hbm_bytes'])}"
        )
    if r["fits"]:
        lines.append(f"  FITS: {_g(r['total_bytes'])} of {_g(r['hbm_bytes'])} per chip")
    else:
        lines.append(
            f"  DOES NOT FIT: needs {_g(r['total_bytes'])} of {_g(r['hbm_bytes'])} per chip "
            + (
                "(compiler's temporaries + parameters + optimizer state) "
                if r.get("temp_bytes_oom")
                else ""
            )
            + f"over "
            f"by {_g(r['over_bytes'])}"
            + (f"; compiler: {r['compile_error']}" if r.get("compile_error") else "")
        )
    f = r["flops"]
    parts = ", ".join(f"{k} {v / 1e12:.1f}" for k, v in f.items() if k != "total")
    lines.append(f"  model FLOPs per step: {f['total'] / 1e12:.1f} TFLOP ({parts}) — "
                 f"{f['total'] / r['chips'] / 1e12:.2f} TFLOP a chip")  # fmt: skip
    lines.append(
        f"  roofline LOWER BOUND on step time: {r['roofline_seconds_lower_bound'] * 1e3:.1f} ms "
        "(bf16 peak and HBM bandwidth; not a measurement)"
    )
    if "collectives" in r:
        c = [
            f"{k} {v['count']:.0f}x {v['bytes'] / GiB:.2f} GiB"
            + (
                " (in a loop of unknown trip count: once per iteration)"
                if v["unknown_loops"]
                else ""
            )
            for k, v in r["collectives"].items()
            if v["count"]
        ]
        lines.append("  collectives per step (per chip, result bytes): " + ("; ".join(c) or "none"))
    return "\n".join(lines)


def _floor(b: float, step: int) -> int:
    return int(b // step) * step


def find_batch(
    topology: str, stage: str, start: int, step: int, limit: int = 1 << 14, *,
    start_result: dict | None = None, resolution: int | None = None,
    progress: Callable[[dict], None] | None = None,
) -> dict:  # fmt: skip
    """Largest batch (a multiple of `step`, the batch shards x accumulation steps) whose compile
    fits HBM, with few compiles that fit: on a CPU host a compile that runs out of HBM often fails
    in seconds, one that fits takes minutes (not always: in the pass of 3 December 2026 some
    compiles over HBM ran to the end, 50-290 s, as long as or longer than fitting ones; see
    docs/tpu_plan/notes.md). So the search

    - takes the start batch's result as known (`start_result`, the compile the caller already
      ran; compiled here only when not given);
    - probes first at a linear estimate from the start's own figures: per-chip fixed bytes
      (parameters + optimizer state + code) stay, the rest grows with the batch;
    - then, from the probes' figures (a fit's compiled total, an out-of-HBM compile's reported
      need), predicts where memory crosses HBM (a secant through the two probes nearest the edge)
      and probes one step ABOVE that edge: failing there is cheap, and the next probe, the edge
      itself, should fit. Where the prediction misleads twice on the same side, or three probes in
      a row fail, it bisects, the midpoint rounded up. Below a known failure it never probes twice the same batch.

    Stops when the largest fit and the smallest failure are `resolution` apart (default `step`:
    exact). Returns {"batch": largest fitting (0 when none), "upper": smallest failing or None,
    "step", "resolution", "exact", "tried": {batch: fits}, "probes": [{batch, fits, total_bytes,
    seconds}, ...] (the start first, "seeded" when it was not compiled here)}; "capped_at" when
    every probe up to `limit` fit. `progress`, when given, receives that dict after each probe
    (with "done": False) so a caller can keep the bounds of a search it may have to stop.
    """
    resolution = max(step, resolution or step)
    probes: list[dict] = []
    tried: dict[int, bool] = {}

    def record(b: int, r: dict, seconds: float | None, seeded: bool = False) -> None:
        probe = {"batch": b, "fits": bool(r["fits"]), "total_bytes": r.get("total_bytes"),
                 "seconds": seconds}  # fmt: skip
        if seeded:
            probe["seeded"] = True
        probes.append(probe)
        tried[b] = probe["fits"]

    if start_result is None:
        t0 = time.time()
        start_result = plan_stage(topology, stage, start)
        record(start, start_result, round(time.time() - t0, 1))
    else:
        record(start, start_result, start_result.get("compile_seconds"), seeded=True)
    hbm = float(start_result["hbm_bytes"])
    fixed = float(
        (start_result.get("param_bytes") or 0)
        + (start_result.get("opt_state_bytes") or 0)
        + (start_result.get("code_bytes") or 0)
    )

    def bounds() -> tuple[int, int | None]:
        fit = [b for b, f in tried.items() if f]
        fail = [b for b, f in tried.items() if not f]
        return max(fit, default=0), min(fail, default=None)

    def state(done: bool) -> dict:
        lo, hi = bounds()
        out = {"batch": lo, "upper": hi, "step": step, "resolution": resolution,
               "exact": hi is not None and hi - lo <= step, "tried": dict(sorted(tried.items())),
               "probes": probes, "done": done}  # fmt: skip
        if hi is None and lo >= limit:
            out["capped_at"] = limit
        return out

    def predicted_edge() -> float | None:
        """Batch where memory reaches HBM, linear through the two probes nearest the edge."""
        known = {p["batch"]: p["total_bytes"] for p in probes if p["total_bytes"]}
        fits_known = sorted(b for b in known if tried[b])
        fails_known = sorted(b for b in known if not tried[b])
        pts = fits_known[-1:] + fails_known[:1]
        if len(pts) < 2:
            pts = (fits_known[-2:] if fits_known else fails_known[:2]) or pts
        if len(pts) == 2:
            (b1, y1), (b2, y2) = ((b, known[b]) for b in pts)
            slope = (y2 - y1) / (b2 - b1)
            return b1 + (hbm - y1) / slope if slope > 0 else None
        if len(pts) == 1:  # one figure: fixed bytes stay, the rest is proportional to the batch
            b1, y1 = pts[0], known[pts[0]]
            return b1 * (hbm - fixed) / (y1 - fixed) if y1 > fixed else None
        return None

    misses = {"up": 0, "down": 0}  # predictions proven wrong, by side, in a row
    first = True
    while True:
        lo, hi = bounds()
        if (hi is not None and hi - lo <= resolution) or (hi is None and lo >= limit):
            break
        edge = predicted_edge()
        if edge is None:
            cand = 2 * lo if hi is None else lo + (hi - lo) // 2
        elif first:
            cand = _floor(edge, step)  # the linear estimate itself
        else:
            cand = _floor(edge, step) + step  # just above the edge: a cheap failure, probably
        fails_in_a_row = next((i for i, p in enumerate(reversed(probes)) if p["fits"]), 0)
        if hi is not None and (max(misses.values()) >= 2 or fails_in_a_row >= 3):
            # the model misleads (or creeps down a step at a time): bisect, midpoint rounded up
            cand = lo + -(-(hi - lo) // (2 * step)) * step
            misses = {"up": 0, "down": 0}
        top = limit if hi is None else hi - step
        cand = min(max(cand, lo + step), top)
        first = False
        t0 = time.time()
        r = plan_stage(topology, stage, cand)
        record(cand, r, round(time.time() - t0, 1))
        if edge is not None:  # which side the prediction missed on, if it did
            if r["fits"] and cand > edge:
                misses["down"], misses["up"] = misses["down"] + 1, 0
            elif not r["fits"] and cand < edge:
                misses["up"], misses["down"] = misses["up"] + 1, 0
        if progress is not None:
            progress(state(False))
    return state(True)
