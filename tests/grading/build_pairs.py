"""Builds `labelled_pairs.jsonl`: real MATH-500 answers with equivalent rewrites and near misses.

Run once (the output is committed; tests read it, not the data):
    python tests/grading/build_pairs.py --data_dir ../shared/data/math --out tests/grading/labelled_pairs.jsonl

Each line is {"gt": str, "cand": str, "label": bool, "category": str}. Rewrites are written by rules a
MATH grader must accept (TeX spellings, decimals, thousands separators, units, `x =`, reordered roots and
unions); near misses change the mathematics (off by one, sign, swapped coordinates, bracket kind,
missing element). Hand-written pairs for the other categories (`grading_cases.CASES`) and the distinct
answers of the real pools are appended. Hostile inputs (`grading_cases.HOSTILE`, some 100k characters
long) stay in code; the accuracy test adds them.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import re
import sys
from fractions import Fraction

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from grading_cases import CASES  # noqa: E402

from mathft_jax.grading.extract import extract_answer  # noqa: E402

_INT = re.compile(r"^-?\d+$")
_FRAC = re.compile(r"^(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}$")
_SQRT = re.compile(r"^(\d*)\\sqrt\{(\d+)\}$")
_DEG = re.compile(r"^(\d+)\^\\circ$")


def _terminating(value: Fraction) -> str | None:
    den = value.denominator
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    if den != 1:
        return None
    text = f"{float(value):.10f}".rstrip("0").rstrip(".")
    return text if Fraction(text) == value else None


def _split_list(text: str) -> list[str] | None:
    depth, parts, start = 0, [], 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts] if len(parts) > 1 else None


def pairs_for(answer: str, rng: random.Random) -> list[tuple[str, bool, str]]:
    """(candidate, label, category) rewrites and near misses of one ground-truth answer."""
    out: list[tuple[str, bool, str]] = []
    a = answer.strip()
    if _INT.match(a):
        n = int(a)
        out += [(f"{n}.0", True, "decimal"), (f"x = {n}", True, "equation_prefix")]
        out += [(f"{n}\\text{{ units}}", True, "units"), (f"${n}$", True, "dollars")]
        out += [(str(n + 1), False, "near_off_by_one"), (str(n - 1), False, "near_off_by_one")]
        if n != 0:
            out.append((str(-n), False, "near_sign"))
        if abs(n) >= 1000:
            out.append((f"{n:,}".replace(",", ",\\!"), True, "thousands"))
            out.append((f"{n:,}", True, "thousands"))
        if n > 0 and rng.random() < 0.3:
            out.append((f"\\frac{{{2 * n}}}{{2}}", True, "frac"))
        return out
    match = _FRAC.match(a)
    if match:
        sign, p, q = match.groups()
        value = Fraction(int(p), int(q)) * (-1 if sign else 1)
        out += [(f"{sign}\\dfrac{{{p}}}{{{q}}}", True, "frac"), (f"{sign}{p}/{q}", True, "frac")]
        out += [(f"\\frac{{{'-' if sign else ''}{p}}}{{{q}}}", True, "frac")]
        dec = _terminating(value)
        if dec:
            out.append((dec, True, "decimal"))
        out += [(f"{sign}\\frac{{{q}}}{{{p}}}", p == q, "near_reciprocal")]
        out += [(f"\\frac{{{p}}}{{{q}}}" if sign else f"-\\frac{{{p}}}{{{q}}}", False, "near_sign")]
        out += [(f"{sign}\\frac{{{int(p) + 1}}}{{{q}}}", False, "near_off_by_one")]
        if len(p) == 1 and len(q) == 1:
            out.append((f"{sign}\\frac{p}{q}", True, "frac"))
        return out
    match = _SQRT.match(a)
    if match:
        coef, rad = match.groups()
        out += [
            (f"{coef}\\sqrt {rad}" if len(rad) == 1 else f"{coef}\\sqrt{{{rad}}}", True, "radical")
        ]
        out += [(f"{coef}√{rad}" if coef else f"√{rad}", True, "unicode")]
        c = int(coef or 1)
        out += [(f"\\sqrt{{{c * c * int(rad)}}}", True, "radical")]
        out += [(f"{c}\\sqrt{{{int(rad) + 1}}}", False, "near_off_by_one")]
        out += [(f"{rad}^{{1/2}}" if not coef else f"{coef}\\cdot {rad}^{{1/2}}", True, "radical")]
        return out
    match = _DEG.match(a)
    if match:
        d = match.group(1)
        out += [
            (d, True, "degrees"),
            (f"{d}°", True, "unicode"),
            (f"{d}^{{\\circ}}", True, "degrees"),
        ]
        out += [(f"{int(d) + 1}^\\circ", False, "near_off_by_one")]
        return out
    if a.startswith(("(", "[", "\\left(", "\\left[")) and "\\cup" not in a:
        inner = re.sub(r"^\\left[(\[]|\\right[)\]]$", "", a)
        bracket_open = a.replace("\\left", "")[0]
        bracket_close = a.replace("\\right", "")[-1]
        inner = inner[1:-1] if inner[0] in "([" else inner
        parts = _split_list(inner)
        if parts and len(parts) == 2:
            x, y = parts
            out.append((f"{bracket_open} {x} , {y} {bracket_close}", True, "tuple_interval"))
            out.append(
                (f"\\left{bracket_open}{x},{y}\\right{bracket_close}", True, "tuple_interval")
            )
            if x != y:
                out.append((f"{bracket_open}{y},{x}{bracket_close}", False, "near_swapped"))
            other_open = "[" if bracket_open == "(" else "("
            if "\\infty" not in x:
                out.append((f"{other_open}{x},{y}{bracket_close}", False, "near_bracket"))
        return out
    if "\\cup" in a:
        parts = [p.strip() for p in a.split("\\cup")]
        if len(parts) >= 2:
            out.append((" \\cup ".join(reversed(parts)), True, "union_reordered"))
            out.append((" \\cup ".join(parts[:-1]), False, "near_missing_element"))
        return out
    parts = None if re.match(r"^\\?\$?\d{1,3}(,(\\!)? ?\d{3})+$", a) else _split_list(a)
    if parts and all(p for p in parts):
        shuffled = parts[::-1] if len(set(parts)) > 1 else parts
        out.append((", ".join(shuffled), True, "roots_reordered"))
        if len(parts) > 1:
            out.append((", ".join(parts[:-1]), False, "near_missing_element"))
        return out
    if "\\pm" in a and "\\{" not in a:
        plus, minus = a.replace("\\pm", "+", 1), a.replace("\\pm", "-", 1)
        out.append((f"{minus}, {plus}", True, "pm_expanded"))
        out.append((plus, False, "near_missing_element"))
        return out
    if a.startswith("\\text{") and a.endswith("}"):
        out.append((a[6:-1], True, "text"))
        if len(a) > 12:  # words are case-blind; single letters (choices, points) are not
            out.append((a[6:-1].lower(), True, "text"))
        return out
    if "pmatrix" in a:
        out.append((a.replace("pmatrix", "bmatrix"), True, "matrix"))
        out.append((a.replace(" ", ""), True, "matrix"))
        cells = re.findall(r"-?\d+", a)
        if cells:
            first = cells[0]
            bumped = a.replace(first, str(int(first) + 1), 1)
            out.append((bumped, False, "near_off_by_one"))
        return out
    return out


# Real model answers from the shared pools whose equivalence a plain string reference misses; every
# other distinct (ground truth, answer) pair in the pools was checked by eye to differ or to be equal
# after `_reference_key`.
_POOL_EQUIVALENT = {
    ("\\frac{14}{3}", "14/3"),
    ("\\text{east}", "\\text{East}"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)"),
}


def _reference_key(answer: str) -> str:
    text = re.sub(r"\\left|\\right|\\[ ,!]|\s|\$", "", answer).replace("\\dfrac", "\\frac")
    match = re.fullmatch(r"\\text\{(.*)\}", text)
    return match.group(1) if match else text


def pool_pairs(pools_dir: pathlib.Path) -> list[dict]:
    """Distinct (ground truth, extracted answer) pairs of the real pools, labelled as described."""
    seen, out = set(), []
    for path in sorted(pools_dir.glob("*.jsonl")):
        for line in path.open():
            row = json.loads(line)
            recorded = row.get("sample_answers") or [None] * len(row["samples"])
            for text, answer in zip(row["samples"], recorded):
                cand = extract_answer(text) or answer
                if cand is None or (row["answer"], cand) in seen:
                    continue
                seen.add((row["answer"], cand))
                label = _reference_key(row["answer"]) == _reference_key(cand)
                label = label or (row["answer"], cand) in _POOL_EQUIVALENT
                out.append(
                    {"gt": row["answer"], "cand": cand, "label": label, "category": "pool_real"}
                )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data_dir", default=os.environ.get("MATHFT_DATA_DIR", "../shared/data/math")
    )
    parser.add_argument(
        "--pools_dir", default=os.environ.get("MATHFT_POOLS_DIR", "../shared/data/pools")
    )
    parser.add_argument(
        "--out", default=str(pathlib.Path(__file__).with_name("labelled_pairs.jsonl"))
    )
    parser.add_argument("--per_category_cap", type=int, default=40)
    args = parser.parse_args()
    data_dir = pathlib.Path(args.data_dir)
    ids = set((data_dir / "math500_ids.txt").read_text().split())
    rng = random.Random(0)
    rows = [json.loads(line) for line in (data_dir / "test.jsonl").open()]
    counts: dict[str, int] = {}
    out = []
    for row in rows:
        if row["unique_id"] not in ids:
            continue
        gt = extract_answer(row["solution"])
        if gt is None:
            continue
        for cand, label, category in pairs_for(gt, rng):
            key = f"{category}/{label}"
            if counts.get(key, 0) >= args.per_category_cap:
                continue
            counts[key] = counts.get(key, 0) + 1
            out.append({"gt": gt, "cand": cand, "label": label, "category": category})
    if pathlib.Path(args.pools_dir).is_dir():
        out += pool_pairs(pathlib.Path(args.pools_dir))
    for category, table in CASES.items():
        for gt, cand, label in table:
            out.append({"gt": gt, "cand": cand, "label": label, "category": category})
    with open(args.out, "w") as f:
        for item in out:
            f.write(json.dumps(item) + "\n")
    print(f"wrote {len(out)} pairs to {args.out}: {sorted(counts.items())}")


if __name__ == "__main__":
    main()
