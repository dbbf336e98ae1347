"""Compile a lowered step for a topology and report per chip: memory against HBM, model FLOPs, a
roofline lower bound on its time, and the collectives of the compiled program.

`cost_analysis()` is not used: with the layer scan it counts the loop body once.
"""

import re
import time
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


def find_batch(topology: str, stage: str, start: int, step: int, limit: int = 1 << 14) -> dict:
    """Largest batch (a multiple of `step`, the batch shards) whose compile fits: doubling, then
    bisection. Returns {"batch": largest fitting or 0, "tried": {batch: fits}}."""
    tried: dict[int, bool] = {}

    def fits(b: int) -> bool:
        if b not in tried:
            tried[b] = bool(plan_stage(topology, stage, b)["fits"])
        return tried[b]

    lo, hi = 0, None
    b = max(step, start - start % step)
    while hi is None and b <= limit:
        if fits(b):
            lo, b = b, b * 2
        else:
            hi = b
    if hi is None:
        return {"batch": lo, "tried": tried, "capped_at": limit}
    while hi - lo > step:
        mid = (lo + hi) // 2
        mid -= mid % step
        if mid <= lo:
            break
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return {"batch": lo, "tried": tried}
