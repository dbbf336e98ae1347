"""Collectives of a compiled (optimised) HLO module: count and result bytes per step, with
instructions inside a while loop (the layer scan) counted once per iteration.

A loop's trip count is its `known_trip_count` where the compiler left one; TPU programs often drop
it, so it is otherwise read from the loop itself: a condition `counter < constant(N)` on one tuple
element whose start value, in the while's operand tuple, is a constant S (through copies) gives
N - S. A loop matching neither is counted once and marked (`unknown_loops`)."""

import collections
import re

import numpy as np

KINDS = ("all-gather", "reduce-scatter", "all-reduce", "all-to-all", "collective-permute")
_DTYPE_BYTES = {
    "pred": 1, "s8": 1, "u8": 1, "s16": 2, "u16": 2, "f16": 2, "bf16": 2, "s32": 4, "u32": 4,
    "f32": 4, "s64": 8, "u64": 8, "f64": 8, "f8e4m3fn": 1, "f8e5m2": 1,
}  # fmt: skip
_SHAPE = re.compile(r"\b(pred|[suf]\d+|bf16|f8e\w+)\[([\d,]*)\]")
_COMP = re.compile(r"^(ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$")
_INSTR = re.compile(r"^\s*(?:ROOT\s+)?%?[\w.\-]+\s*=\s*(.*?)\s([\w\-]+)\(")
_CALLS = re.compile(r"\b(?:body|condition|calls|to_apply|branch_computations)=\{?%?([\w.\-]+)")
_TRIP = re.compile(r'"known_trip_count":\{"n":"(\d+)"\}')
_DEF = re.compile(r"^\s*(?:ROOT\s+)?%([\w.\-]+)\s*=\s*(.*)$")
_CONST = re.compile(r"\bconstant\((-?\d+)\)")
_LT = re.compile(r"compare\(%([\w.\-]+), %([\w.\-]+)\), direction=LT\b")
_GTE_INDEX = re.compile(r"get-tuple-element\(%[\w.\-]+\), index=(\d+)")
_WHILE_OPERAND = re.compile(r"\bwhile\(%([\w.\-]+)\)")
_CONDITION = re.compile(r"\bcondition=%?([\w.\-]+)")


def shape_bytes(text: str) -> int:
    """Bytes of every array shape written in `text` (a result type, possibly a tuple)."""
    total = 0
    for dtype, dims in _SHAPE.findall(text):
        n = int(np.prod([int(d) for d in dims.split(",") if d])) if dims else 1
        total += n * _DTYPE_BYTES.get(dtype, 4)
    return total


def _computations(hlo: str) -> tuple[dict[str, list[str]], str]:
    comps: dict[str, list[str]] = {}
    entry, current = "", None
    for line in hlo.splitlines():
        m = _COMP.match(line) if line[:1].strip() and line.rstrip().endswith("{") else None
        if m and not line.startswith("HloModule"):
            current = m.group(2)
            comps[current] = []
            if m.group(1):
                entry = current
            continue
        if current is not None:
            if line.strip() == "}":
                current = None
            else:
                comps[current].append(line)
    return comps, entry


def _definitions(lines: list[str]) -> dict[str, str]:
    """{instruction name: its right-hand side} of one computation."""
    return {m.group(1): m.group(2) for m in map(_DEF.match, lines) if m}


def _constant(defs: dict[str, str], name: str, depth: int = 0) -> int | None:
    """The integer a scalar instruction holds: a constant, possibly through copies."""
    rhs = defs.get(name, "")
    if (m := _CONST.search(rhs)) and " constant(" in rhs:
        return int(m.group(1))
    if " copy(%" in rhs and depth < 8:
        return _constant(defs, rhs.split(" copy(%", 1)[1].split(")", 1)[0], depth + 1)
    return None


def inferred_trip_count(comps: dict[str, list[str]], caller: str, while_line: str) -> int | None:
    """N - S for a loop `counter < constant(N)` whose counter starts at constant S; else None."""
    cond, operand = _CONDITION.search(while_line), _WHILE_OPERAND.search(while_line)
    if not cond or not operand or cond.group(1) not in comps:
        return None
    cond_defs = _definitions(comps[cond.group(1)])
    compares = [m for rhs in cond_defs.values() if (m := _LT.search(rhs))]
    if len(compares) != 1:
        return None
    counter, limit = compares[0].groups()
    index = _GTE_INDEX.search(cond_defs.get(counter, ""))
    bound = _constant(cond_defs, limit)
    if index is None or bound is None:
        return None
    caller_defs = _definitions(comps[caller])
    init = caller_defs.get(operand.group(1), "")
    if " tuple(" not in init:
        return None
    elements = [
        e.strip().lstrip("%") for e in init.split(" tuple(", 1)[1].split(")", 1)[0].split(",")
    ]
    k = int(index.group(1))
    start = _constant(caller_defs, elements[k]) if k < len(elements) else None
    return None if start is None or bound < start else bound - start


def collectives(hlo: str) -> dict[str, dict[str, float]]:
    """{kind: {"count": per step, "bytes": result bytes per chip per step, "unknown_loops": n}}."""
    comps, entry = _computations(hlo)
    mult: dict[str, float] = collections.defaultdict(float)
    unknown: dict[str, int] = collections.defaultdict(int)

    def visit(name: str, factor: float, in_unknown: int, depth: int = 0) -> None:
        if name not in comps or depth > 50:
            return
        mult[name] += factor
        unknown[name] = max(unknown[name], in_unknown)
        for line in comps[name]:
            callees = _CALLS.findall(line)
            if not callees:
                continue
            is_while = " while(" in line
            trip: int | None = None
            if is_while:
                known = _TRIP.search(line)
                trip = int(known.group(1)) if known else inferred_trip_count(comps, name, line)
            for callee in callees:
                f, u = factor, in_unknown
                if is_while:
                    if trip is not None:
                        f = factor * trip
                    else:
                        u = in_unknown + 1
                visit(callee, f, u, depth + 1)

    visit(entry, 1.0, 0)
    out = {k: {"count": 0.0, "bytes": 0.0, "unknown_loops": 0} for k in KINDS}
    for name, lines in comps.items():
        if mult.get(name, 0) == 0:
            continue
        for line in lines:
            m = _INSTR.match(line)
            if not m:
                continue
            op = m.group(2)
            kind = op[: -len("-start")] if op.endswith("-start") else op
            if kind not in KINDS:
                continue
            result = m.group(1)
            if op.endswith("-start") and result.startswith("("):  # (operands, results) tuple
                parts = result.split("),")
                result = parts[-1] if len(parts) > 1 else result
            out[kind]["count"] += mult[name]
            out[kind]["bytes"] += mult[name] * shape_bytes(result)
            out[kind]["unknown_loops"] = max(out[kind]["unknown_loops"], unknown[name])
    return out
