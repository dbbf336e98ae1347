"""`is_equiv`: are two final answers mathematically the same, under MATH's conventions?

Order of checks, cheapest first: canonical strings equal; exact plain-number keys; the answer's
structure (unions, intervals and tuples where brackets and order matter, sets and lists of roots
where order does not, matrices, equations, inequalities as intervals, `\\pm`); finally each scalar
pair is parsed by the whitelist parser (`latex_parser`) and evaluated by `numeric`: in exact
rationals where it can (so `3^{100}` and `3^{100}+1` differ), else at 40 digits; expressions with
variables at three fixed points (a deterministic polynomial-identity test). Nothing is ever passed
to `eval` or `sympify`; every bound hit answers "not equivalent" and is counted in `grading_stats()`.
"""

from __future__ import annotations

import functools
import re
import threading
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from mathft_jax.grading import latex_parser, normalize, numeric
from mathft_jax.grading.deadline import map_with_deadline
from mathft_jax.grading.normalize import MAX_CANONICAL_CHARS, canonical_form, number_key
from mathft_jax.grading.numeric import MP

BUDGET_S = 1.0  # cooperative per-call budget; `is_equiv_many` adds a hard 2 s process deadline
_REL_TOL = MP.mpf("1e-28")
_ZERO_TOL = MP.mpf("1e-36")
# Above this magnitude _REL_TOL no longer separates neighbouring integers.
_MAX_RESOLVED = MP.mpf("1e27")
_MAX_ITEMS = 40  # elements of a list/tuple/matrix
_POINTS = (
    (0.5772156649015329, 1.3247179572447460, 2.2360679774997897, 0.9189385332046727, 1.6180339887),
    (1.7320508075688772, 0.3183098861837907, 1.4142135623730951, 2.7182818284590451, 0.6931471805),
    (2.0943951023931957, 1.1447298858494002, 0.4342944819032518, 1.2020569031595942, 3.1415926535),
)

_STATS: Counter = Counter()
MAX_STRUCTURAL_CHARS = 60_000  # characters compared structurally in one is_equiv call
_WORK = threading.local()


def grading_stats() -> dict[str, int]:
    """Counters since start (or the last reset), per process: calls, canonical_hits, timeouts
    (budget or worker deadline ran out), guard_rejections (parses or evaluations refused by a size
    bound), parse_failures (text outside the grammar), errors (unexpected exceptions). Every one of
    these answered False."""
    return dict(_STATS)


def reset_grading_stats() -> None:
    """Zeroes the counters of `grading_stats`."""
    _STATS.clear()


def clear_caches() -> None:
    """Forgets memoised canonical forms, parses and values (benchmarks start each side cold)."""
    _PARSED.clear()
    _EVALUATED.clear()
    normalize.clear_canonical_cache()


_SCALED_MATRIX_RE = re.compile(
    r"^((?:(?!\\begin).){1,40}?)(\\begin\{([pbvBV]?matrix|array)\}.*\\end\{\3\})$"
)
_TEMPLATE_RE = re.compile(r"^\s*(?:\{\{[^{}]*\}\}|[$#]\{[^{}]*\}|<%.*%>)\s*$", re.DOTALL)
_MATRIX_RE = re.compile(
    r"^\\begin\{([pbvBV]?matrix|array)\}(?:\{[lcr|]*\})?((?:(?!\\end\{).)*)\\end\{\1\}$"
)
_WORD_RE = re.compile(r"[a-zA-Z]{3,}")
_COMMAND_RE = re.compile(r"\\[a-zA-Z]+")
_KNOWN_WORDS = re.compile(r"sqrt|sin|cos|tan|cot|sec|csc|arc|log|exp|pi|infty|frac|binom")
_OPENERS, _CLOSERS = "([{", ")]}"


@functools.cache
def _split_re(sep: str) -> re.Pattern:
    return re.compile(f"({re.escape(sep)})|\\\\([{{}}])|([([{{])|[)\\]}}]")


def _split_top(text: str, sep: str) -> list[str]:
    """Splits at occurrences of `sep` outside any brackets (`\\{`, `\\}` count as braces)."""
    if sep not in text:
        return [text]
    parts, depth, start = [], 0, 0
    for match in _split_re(sep).finditer(text):  # brackets and separators only: C speed
        is_sep, escaped, opener = match.groups()
        if is_sep is not None:
            if depth == 0:
                parts.append(text[start : match.start()])
                start = match.end()
        elif escaped is not None:
            depth += 1 if escaped == "{" else -1
        else:
            depth += 1 if opener is not None else -1
    parts.append(text[start:])
    return parts


def _encloses(text: str) -> bool:
    """Whether the bracket at `text[0]` closes exactly at `text[-1]` (any bracket kinds)."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth == 0:
                return i == len(text) - 1
    return False


def structure(text: str) -> tuple:
    """The outer structure of a canonical answer: ("union", parts) ("matrix", rows)
    ("set", items) ("tuple", open, close, items) ("list", items) ("eq", lhs, rhs) ("expr", text)."""
    parts = _split_top(text, "\\cup")
    if len(parts) > 1:
        return ("union", parts)
    match = _MATRIX_RE.match(text)
    if match:
        rows = [row for row in match.group(2).split("\\\\") if row]
        return ("matrix", [row.split("&") for row in rows])
    if text.startswith("\\{") and text.endswith("\\}"):
        return ("set", _split_top(text[2:-2], ","))
    if len(text) >= 2 and text[0] in "([" and text[-1] in ")]" and _encloses(text):
        items = _split_top(text[1:-1], ",")
        if len(items) > 1:
            return ("tuple", text[0], text[-1], items)
    items = _split_top(text, ",")
    if len(items) == 1:
        items = _split_top(text, ";")  # `(-4,27);(2,15)`, `1; 3`
    if len(items) > 1:
        return ("list", items)
    for sign in ("\\pm", "\\mp"):
        if sign in text:
            plus, minus = ("+", "-") if sign == "\\pm" else ("-", "+")
            a, b = text.replace(sign, plus, 1), text.replace(sign, minus, 1)
            return ("list", [a[1:] if a.startswith("+") else a, b])
    sides = _split_top(text, "=")
    if len(sides) == 2:
        return ("eq", sides[0], sides[1])
    return ("expr", text)


_BOUND = r"(-?[^<>=,]+?)"  # no comma: `x\le-2,x\ge2` is a list of two
_LOWER = {"<": "(", "\\le": "[", "\\leq": "[", "<=": "["}
_UPPER = {"<": ")", "\\le": "]", "\\leq": "]", "<=": "]"}
_DOWN = {">": "<", "\\ge": "\\le", "\\geq": "\\le", ">=": "<="}
_REL = r"(<=|<|\\leq?)"
_REL_DOWN = r"(>=|>|\\geq?)"
# What an inequality bounds: a letter (`x`, `x_1`), a function value (`f(x)`) or a Greek letter
# (`\theta`), not an expression (`0<2x<1` bounds 2x, not x) nor a constant (`\pi`).
_NAME = r"(?:[a-zA-Z](?:_\{?\w+\}?)?(?:\([a-z]\))?|\\(?!(?:pi|infty|e)(?![a-z]))[a-z]+)"
_TWO_SIDED_RE = re.compile(rf"^{_BOUND}{_REL} ?{_NAME}{_REL}{_BOUND}$")
_TWO_SIDED_DOWN_RE = re.compile(rf"^{_BOUND}{_REL_DOWN} ?{_NAME}{_REL_DOWN}{_BOUND}$")
_REVERSED_RE = re.compile(rf"^([^<>=a-zA-Z\\]+)(<|>|\\le|\\ge|\\neq) ?({_NAME})$")
_LOWER_RE = re.compile(rf"^{_NAME}(>=|>|\\geq?){_BOUND}$")
_UPPER_RE = re.compile(rf"^{_NAME}{_REL}{_BOUND}$")
_NOT_EQUAL_RE = re.compile(rf"^{_NAME}\\neq ?([^<>=,]+)$")
_WORD_LETTER_RE = re.compile(r"[a-zA-Z]")


def _inequality_as_interval(text: str) -> str | None:
    r"""`a<x\le b` -> `(a,b]`, `x>a` -> `(a,\infty)`, `x\le b` -> `(-\infty,b]`,
    `x\neq a` -> `(-\infty,a)\cup(a,\infty)`; the bounded name may be `f(x)`; else None."""
    if match := _REVERSED_RE.match(text):  # `3 \ge x` is `x \le 3`
        bound, rel, name = match.groups()
        text = f"{name}{_FLIPPED.get(rel, rel)}{bound}"
    if match := _TWO_SIDED_DOWN_RE.match(text):  # `b > x \ge a` is `a \le x < b`
        high, rel_high, rel_low, low = match.groups()
        return f"{_LOWER[_DOWN[rel_low]]}{low},{high}{_UPPER[_DOWN[rel_high]]}"
    if match := _TWO_SIDED_RE.match(text):
        low, rel_low, rel_high, high = match.groups()
        return f"{_LOWER[rel_low]}{low},{high}{_UPPER[rel_high]}"
    if (match := _NOT_EQUAL_RE.match(text)) and not _WORD_LETTER_RE.search(
        _COMMAND_RE.sub("", match.group(1))
    ):  # `x \neq 3`, not `a \neq b` (two unknowns: compared as a relation)
        value = match.group(1)
        return f"(-\\infty,{value})\\cup({value},\\infty)"
    if match := _LOWER_RE.match(text):
        rel, low = match.groups()
        return f"{'(' if rel == '>' else '['}{low},\\infty)"
    if match := _UPPER_RE.match(text):
        rel, high = match.groups()
        return f"(-\\infty,{high}{_UPPER[rel]}"
    return None


def _inequalities_as_intervals(text: str) -> str:
    """`x \\le 3`, and `x<2 or x>5` (a list after canonical_form) as a union of intervals."""
    single = _inequality_as_interval(text)
    if single is not None:
        return single
    parts = _split_top(text, ",")
    if 1 < len(parts) <= _MAX_ITEMS:
        intervals = [_inequality_as_interval(part) for part in parts]
        if all(intervals):
            return "\\cup".join(intervals)
    return text


_RELATION_RE = re.compile(r"\\(?:leq?|geq?|neq)(?![a-zA-Z])|<=|>=|<|>")
_FLIPPED = {"<": ">", ">": "<", "\\le": "\\ge", "\\ge": "\\le", "\\neq": "\\neq"}


def _relation(text: str) -> tuple[str, str, str] | None:
    """One inequality between expressions, `(op, smaller side, larger side)` with op `<` or `\\le`
    (`\\neq`: its two sides as written)."""
    found = _RELATION_RE.findall(text)
    if len(found) != 1:
        return None
    lhs, rhs = _RELATION_RE.split(text)
    if not lhs or not rhs or "," in text:
        return None
    op = {"<=": "\\le", ">=": "\\ge", "\\leq": "\\le", "\\geq": "\\ge"}.get(found[0], found[0])
    return (op, lhs, rhs) if op in ("<", "\\le", "\\neq") else (_FLIPPED[op], rhs, lhs)


def _fingerprint(item: str, deadline: float) -> Any:
    """A scalar item's value at one point (each symbol valued by its name), or None.

    Items whose fingerprints differ cannot be equal as functions, so unordered matching only runs
    the full comparison on pairs whose fingerprints agree: about n instead of n^2 comparisons.
    """
    text = canonical_form(item)
    struct = structure(text)
    if struct[0] == "tuple" and len(struct[3]) <= _MAX_ITEMS:
        # A point's fingerprint combines its coordinates' in order: lists of points match in ~n.
        total = MP.mpf(0)
        for weight, part in zip(_TUPLE_WEIGHTS, struct[3]):
            value = _fingerprint(part, deadline)
            if value is None:
                return None
            total += weight * value
        return total
    if struct[0] != "expr" or _is_text(text):
        return None
    try:
        tree = latex_parser.parse(text)
        env = {
            n: MP.mpf(zlib.crc32(n.encode()) % 9973) / 997 + 1
            for n in latex_parser.free_symbols(tree)
        }
        value = numeric.evaluate(tree, env, deadline)
    except latex_parser.DeadlineExceeded:
        raise
    except (latex_parser.ParseError, latex_parser.GuardError):
        return None
    return value if MP.isfinite(value) else None


_TUPLE_WEIGHTS = [MP.sqrt(k + 2) for k in range(_MAX_ITEMS)]


def _may_match(u: Any, v: Any) -> bool:
    return u is None or v is None or abs(u - v) <= MP.mpf("1e-20") * max(1, abs(u), abs(v))


def _expand_pm(items: list[str]) -> list[str]:
    """`\\pm 1, \\pm 2` lists four roots: items with a `\\pm` split into their two values."""
    out = []
    for item in items:
        text = canonical_form(item)
        if "\\pm" in text or "\\mp" in text:
            struct = structure(text)
            if struct[0] == "list" and len(struct[1]) == 2:
                out.extend(struct[1])
                continue
        out.append(item)
    return out


_NAMED_RE = re.compile(r"^([a-zA-Z](?:_\{?\w+\}?)?|[A-Z]{2,3}|\\[a-z]+)=([^=]+)$")


def _named_values(items: list[str]) -> dict[str, str] | None:
    """`a=1, b=2`: the values by name when every item names a different unknown; else None
    (`x=1, x=3` is a list of roots, compared without its names)."""
    out = {}
    for item in items:
        match = _NAMED_RE.match(item.strip())
        if not match or match.group(1) in out:
            return None
        out[match.group(1)] = match.group(2)
    if len({re.sub(r"_.*", "", name) for name in out}) == 1:
        return None  # `x_1 = 2, x_2 = 1`: numbered roots, in no particular order
    return out


def _match_unordered(a: list[str], b: list[str], deadline: float) -> bool:
    if len(a) > _MAX_ITEMS or len(b) > _MAX_ITEMS:
        return False
    a, b = _expand_pm(a), _expand_pm(b)
    if len(a) != len(b) or len(a) > _MAX_ITEMS:
        return False
    a = [canonical_form(item) for item in a]
    unused = [canonical_form(item) for item in b]
    rest = []
    for item in a:  # identical items first: free
        if item in unused:
            unused.remove(item)
        else:
            rest.append(item)
    if len(rest) > 1:
        marks = [_fingerprint(item, deadline) for item in unused]
    else:
        marks = [None] * len(unused)
    for item in rest:
        mark = _fingerprint(item, deadline) if len(rest) > 1 else None
        for j, other in enumerate(unused):
            if _may_match(mark, marks[j]) and _equal(item, other, deadline):
                del unused[j], marks[j]
                break
        else:
            return False
    return True


def _match_ordered(a: Sequence[str], b: Sequence[str], deadline: float) -> bool:
    if len(a) != len(b) or len(a) > _MAX_ITEMS:
        return False
    return all(_equal(x, y, deadline) for x, y in zip(a, b))


def _equal(a: str, b: str, deadline: float) -> bool:
    """Structural comparison of two canonical answers (see module docstring)."""
    if time.perf_counter() > deadline:  # structural work on a long answer counts too
        raise latex_parser.DeadlineExceeded("grading deadline exceeded")
    _WORK.chars = getattr(_WORK, "chars", 0) + len(a) + len(b)
    if _WORK.chars > MAX_STRUCTURAL_CHARS:  # nested lists of long garbage: n^2 * depth
        raise latex_parser.GuardError("too much structural work")
    a, b = canonical_form(a), canonical_form(b)
    if a == b:
        return True
    if not a or not b:
        return False
    if any(op in a + b for op in ("<", ">", "\\le", "\\ge", "\\neq")):
        a, b = _inequalities_as_intervals(a), _inequalities_as_intervals(b)
        ra, rb = _relation(a), _relation(b)
        if ra is not None and rb is not None:  # `s^2 \\le 8r^2` and `s^2 \\le 8\\cdot r^2`
            if ra[0] != rb[0]:
                return False
            if _equal(ra[1], rb[1], deadline) and _equal(ra[2], rb[2], deadline):
                return True
            # `a \\neq b` is `b \\neq a`
            return (
                ra[0] == "\\neq"
                and _equal(ra[1], rb[2], deadline)
                and _equal(ra[2], rb[1], deadline)
            )
        if ra is not None or rb is not None:
            return False  # one relation against anything else (`x \\neq 3` against `3`)
    sa, sb = structure(a), structure(b)
    if (sa[0] == "eq") != (sb[0] == "eq"):
        # `x = 5` against `5`, `(x, y) = (1, 2)` against `(1, 2)`: compare the value.
        eq, other = (sa, b) if sa[0] == "eq" else (sb, a)
        return _names_unknowns(eq[1]) and _equal(eq[2], other, deadline)
    if sa[0] == "union" or sb[0] == "union":
        return sa[0] == sb[0] and _match_unordered(sa[1], sb[1], deadline)
    if sa[0] == "tuple" and sb[0] == "tuple":
        return sa[1:3] == sb[1:3] and _match_ordered(sa[3], sb[3], deadline)
    if sa[0] == "matrix" or sb[0] == "matrix":
        return _matrix_equal(sa, sb, deadline)
    named_a = _named_values(sa[1]) if sa[0] == "list" else None
    named_b = _named_values(sb[1]) if sb[0] == "list" else None
    if named_a is not None and named_b is not None:  # `a=1, b=2` against `b=2, a=1`
        return named_a.keys() == named_b.keys() and all(
            _equal(named_a[k], named_b[k], deadline) for k in named_a
        )
    if named_a is not None or named_b is not None:  # `x=2, y=1` against `(2, 1)`: in order
        named, other = (named_a, sb) if named_a is not None else (named_b, sa)
        if other[0] == "tuple" and other[1:3] == ("(", ")"):
            return _match_ordered(list(named.values()), other[3], deadline)
        if other[0] == "list":
            return _match_ordered(list(named.values()), other[1], deadline)
        return False
    if sa[0] in ("list", "set") or sb[0] in ("list", "set"):
        if "tuple" in (sa[0], sb[0]):
            return False
        items_a = sa[1] if sa[0] in ("list", "set") else [a]
        items_b = sb[1] if sb[0] in ("list", "set") else [b]
        return _match_unordered(items_a, items_b, deadline)
    if sa[0] == "tuple" or sb[0] == "tuple":
        return False
    if sa[0] == "eq" and sb[0] == "eq":
        if _same_function_name(sa[1], sb[1]) and _equal(sa[2], sb[2], deadline):
            return True  # `y = 2x+3` and `f(x) = 2x+3`
        return _equations_equal(sa, sb, deadline)
    return _scalar_equal(a, b, deadline)


def _matrix_equal(sa: tuple, sb: tuple, deadline: float) -> bool:
    def cells(struct: tuple) -> list[list[str]] | None:
        if struct[0] == "matrix":
            return struct[1]
        if struct[0] == "expr" and (match := _SCALED_MATRIX_RE.match(struct[1])):
            # `\frac{1}{3}\begin{pmatrix}..\end{pmatrix}`: the scalar multiplies every cell.
            scale = {"-": "-1", "+": "1"}.get(match.group(1), match.group(1))
            inner = structure(match.group(2))
            if inner[0] == "matrix":
                return [[f"({scale})({cell})" for cell in row] for row in inner[1]]
        if struct[0] == "tuple" and struct[1] == "(" and struct[2] == ")":
            return [[item] for item in struct[3]]  # a column vector written as a tuple
        return None

    ma, mb = cells(sa), cells(sb)
    if ma is None or mb is None or len(ma) != len(mb):
        return False
    return all(_match_ordered(ra, rb, deadline) for ra, rb in zip(ma, mb))


def _is_variable(text: str) -> bool:
    return re.fullmatch(r"[a-zA-Z](?:_\{?\w+\}?)?(?:\([a-z]\))?|\\[a-z]+", text) is not None


def _same_function_name(a: str, b: str) -> bool:
    """Whether two left sides name the same function: `y` and `f(x)`, `f(x)` and `g(x)`."""
    a, b = (re.sub(r"^[a-zA-Z]\(([a-z])\)$", "y", side) for side in (a, b))
    return a == b == "y"


def _names_unknowns(text: str) -> bool:
    """Whether an equation's left side only names unknowns: `x`, `f(x)`, `(x, y)`."""
    if len(text) > 2 and text[0] == "(" and text[-1] == ")":
        return all(_is_variable(part) for part in text[1:-1].split(","))
    return _is_variable(text)


def _is_text(text: str) -> bool:
    """Whether an answer is words (a name, a day, `odd`) rather than mathematics."""
    stripped = _KNOWN_WORDS.sub("", _COMMAND_RE.sub("", text))
    return _WORD_RE.search(stripped) is not None


def _text_key(text: str) -> str:
    """Words compared without case, spacing or punctuation; a minus sign stays (`-125 miles`)."""
    return re.sub(r"[^\w-]|_", "", _COMMAND_RE.sub("", text).lower())


def _close(u: Any, v: Any) -> bool:
    if not (MP.isfinite(u) and MP.isfinite(v)):
        return u == v
    # Relative, so 1/2^98 and 1/3^98 differ; the absolute floor against an exact zero only absorbs 40-digit round-off of
    # answers that are exactly zero (sin(pi) evaluates to about 1e-41).
    if u == 0 or v == 0:
        return abs(u - v) < _ZERO_TOL
    return abs(u - v) <= _REL_TOL * max(abs(u), abs(v))


def _values(tree: tuple, symbols: list[str], deadline: float) -> list[Any]:
    out = []
    for point in _POINTS:
        env = {
            name: MP.mpf(point[i % len(point)]) + i // len(point) for i, name in enumerate(symbols)
        }
        try:
            out.append(numeric.evaluate(tree, env, deadline))
        except latex_parser.DeadlineExceeded:
            raise
        except latex_parser.GuardError:
            out.append(None)  # e.g. an exponent tower: no value at this point (counted on use)
        if not symbols:
            break
    return out


_EXACT_POINTS = tuple(
    tuple(Fraction(p, q) for p, q in row)
    for row in (((577, 1000), (1324, 999), (2236, 997), (919, 1009), (1618, 991)),
                ((1732, 1013), (318, 983), (1414, 1019), (2718, 977), (693, 1021)),
                ((2094, 1031), (1144, 971), (434, 1033), (1202, 967), (3141, 1039)))
)  # fmt: skip


_TOO_LARGE = "too large"  # _exact_values: rational perhaps, but beyond exact arithmetic's bounds


def _exact_values(tree: tuple, symbols: list[str], deadline: float) -> list[Fraction] | str | None:
    """Exact rational values at rational points; None when the tree is not rational there,
    `_TOO_LARGE` when it may be but is too big to compute exactly."""
    points = _EXACT_POINTS if symbols else _EXACT_POINTS[:1]
    out = []
    for point in points:
        env = {name: point[i % len(point)] + i // len(point) for i, name in enumerate(symbols)}
        try:
            out.append(numeric.evaluate_exact(tree, env, deadline))
        except numeric.ExactTooLarge:
            return _TOO_LARGE
        except numeric.NotExact:
            return None
    return out


# Clustering compares each distinct answer with several others: parse and evaluate each canonical
# text once. Keyed by text (and the variables it is evaluated in); a time-out is never stored.
_CACHE_SIZE = 1 << 15
_PARSED: dict[str, tuple] = {}
_EVALUATED: dict[tuple[str, str, tuple[str, ...]], Any] = {}


def _remember(cache: dict, key: Any, compute: Any) -> Any:
    if key in cache:
        return cache[key]
    value = compute()
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[key] = value
    return value


def _parse(text: str) -> tuple:
    return _remember(_PARSED, text, lambda: latex_parser.parse(text))


def _exact_of(text: str, symbols: list[str], deadline: float) -> list[Fraction] | str | None:
    key = ("exact", text, tuple(symbols))
    return _remember(_EVALUATED, key, lambda: _exact_values(_parse(text), symbols, deadline))


def _counted(values: list[Any]) -> list[Any]:
    """`values`, counting its guard rejections (points without a value) in the stats."""
    _STATS["guard_rejections"] += values.count(None)
    return values


def _values_of(text: str, symbols: list[str], deadline: float) -> list[Any]:
    key = ("float", text, tuple(symbols))
    return _counted(_remember(_EVALUATED, key, lambda: _values(_parse(text), symbols, deadline)))


def _scalar_equal(a: str, b: str, deadline: float) -> bool:
    if a == b:
        return True
    ka, kb = number_key(a), number_key(b)
    if ka is not None and kb is not None:
        return ka == kb
    if _is_text(a) or _is_text(b):
        return _is_text(a) and _is_text(b) and _text_key(a) == _text_key(b)
    ta, tb = _parse(a), _parse(b)
    symbols = sorted(latex_parser.free_symbols(ta) | latex_parser.free_symbols(tb))
    if len(symbols) > 8:
        raise latex_parser.GuardError("too many variables")
    xa, xb = _exact_of(a, symbols, deadline), _exact_of(b, symbols, deadline)
    if isinstance(xa, list) and isinstance(xb, list):
        return xa == xb
    beyond_exact = _TOO_LARGE in (xa, xb)
    va, vb = _values_of(a, symbols, deadline), _values_of(b, symbols, deadline)
    compared = 0
    for u, v in zip(va, vb):
        if u is None and v is None:
            continue
        if u is None or v is None or not _close(u, v):
            return False
        if beyond_exact and MP.isfinite(u) and abs(u) > _MAX_RESOLVED:
            # 40-digit floats would call `2^{100000}` and `2^{100000}+1` equal: refuse (counted).
            raise latex_parser.GuardError("too large to compare exactly")
        compared += 1
    return compared > 0


def _equations_equal(sa: tuple, sb: tuple, deadline: float) -> bool:
    _, la, ra = sa
    _, lb, rb = sb
    if _scalar_equal(la, lb, deadline) and _scalar_equal(ra, rb, deadline):
        return True
    if _scalar_equal(la, rb, deadline) and _scalar_equal(ra, lb, deadline):
        return True
    # Same solution set: (la - ra) is a constant non-zero multiple of (lb - rb).
    da = latex_parser.parse(f"({la})-({ra})")
    db = latex_parser.parse(f"({lb})-({rb})")
    symbols = sorted(latex_parser.free_symbols(da) | latex_parser.free_symbols(db))
    if not symbols or len(symbols) > 8:
        return False
    ratios = []
    va, vb = _counted(_values(da, symbols, deadline)), _counted(_values(db, symbols, deadline))
    for u, v in zip(va, vb):
        if u is None or v is None or v == 0 or u == 0:
            return False
        ratios.append(u / v)
    return len(ratios) > 1 and all(_close(r, ratios[0]) for r in ratios)


def is_equiv(ground_truth: str, candidate: str) -> bool:
    """Whether `candidate` states the same answer as `ground_truth` (MATH conventions).

    Bounded time on any input; a bound hit (size, depth, time) answers False and is counted in
    `grading_stats()`. Example: `is_equiv("\\frac{1}{2}", "0.5")` and `is_equiv("(1,2)", "(1, 2)")`
    hold; `is_equiv("(1,2)", "(2,1)")` and `is_equiv("[1,2)", "(1,2)")` do not.
    """
    _STATS["calls"] += 1
    if not isinstance(ground_truth, str) or not isinstance(candidate, str):
        return False
    if _TEMPLATE_RE.match(candidate[:MAX_CANONICAL_CHARS]) or _TEMPLATE_RE.match(
        ground_truth[:MAX_CANONICAL_CHARS]
    ):
        # `{{7*7}}`, `${7*7}`: template-injection probes, not mathematics.
        _STATS["parse_failures"] += 1
        return False
    a, b = canonical_form(ground_truth), canonical_form(candidate)
    if a == b and a:
        _STATS["canonical_hits"] += 1
        return True
    if not a or not b or len(a) > MAX_CANONICAL_CHARS or len(b) > MAX_CANONICAL_CHARS:
        return False
    deadline = time.perf_counter() + BUDGET_S
    _WORK.chars = 0
    try:
        if _equal(a, b, deadline):
            return True
        # A bare `81,256` is a number, but against a list it may be that list (normalize docstring).
        for answer, other in ((ground_truth, b), (candidate, a)):
            reading = normalize.list_reading(answer)
            if reading is not None and structure(other)[0] in ("list", "set"):
                if _equal(reading, other, deadline):
                    return True
        return False
    except latex_parser.DeadlineExceeded:
        _STATS["timeouts"] += 1
    except latex_parser.GuardError:
        _STATS["guard_rejections"] += 1
    except latex_parser.ParseError:
        _STATS["parse_failures"] += 1
    except (RecursionError, MemoryError, ArithmeticError, ValueError, TypeError):
        _STATS["errors"] += 1
    except Exception:  # a grader bug must cost one pair, never the whole evaluation job
        _STATS["errors"] += 1
    return False


def _is_equiv_pair(ground_truth: str, candidate: str) -> bool:
    return is_equiv(ground_truth, candidate)


def is_equiv_many(
    pairs: Sequence[tuple[str, str]], workers: int = 2, timeout: float = 2.0
) -> list[bool]:
    """`is_equiv` over many pairs in worker processes, each pair under a hard `timeout` (seconds).

    A pair that overruns (which the guards should make impossible) answers False and counts as a
    timeout in `grading_stats()`.
    """
    results, outcomes = map_with_deadline(
        _is_equiv_pair, [tuple(p) for p in pairs], timeout=timeout, workers=workers, default=False
    )
    _STATS["calls"] += len(pairs)
    _STATS["timeouts"] += outcomes.count("timeout")
    _STATS["errors"] += outcomes.count("error")
    return [bool(r) for r in results]
