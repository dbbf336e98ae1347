"""Cheap, deterministic string canonicalisation of final answers (MATH conventions).

`canonical_form` strips presentation (`$`, `\\left`, spacing, `\\dfrac`, `\\text{}` wrappers, units,
degrees, percent and dollar signs, thousands separators, `x =` prefixes, unicode forms) and writes
plain numbers as one reduced fraction key (`0.5`, `\\frac12`, `1/2` -> `1/2`). Equal canonical forms
imply `is_equiv`, so evaluation clusters on it before any symbolic comparison. Every step is a linear
regex or a bounded scan; inputs longer than `MAX_CANONICAL_CHARS` are only stripped.

Commas. A comma marked as a thousands separator (`40,\\!000`, `40{,}000`) always is one. A comma
next to whitespace (`81, 256`, `45^\\circ, 135^\\circ`: units and degrees dropped before a comma
leave a space) never is: it separates list items, and each item may itself be a bare thousands
number (`1,000, 2,000` lists 1000 and 2000). A list whose plain joining would read as one number
(`81, 256`) is written with `;` (`81;256`) so that it stays a list. A bare `ddd,ddd` (the whole
answer `-?[1-9]\\d{0,2}(,\\d{3})+(.\\d+)?`, no spaces) is a number: `40,000` is 40000, `1,234,567` is
1234567. It is ambiguous with a list of integers (MATH golds such as `70,110`), so `list_reading`
gives that other reading when no group after the first starts with 0 (`81,256` -> `81;256`;
`40,000` and `2,025` have none) and `is_equiv` also tries it, on either side, against an answer
that is itself a list or set: `81,256` equals `256, 81` and `81256`, not `456,123` against
`123,456`.

Double escaping. Text escaped twice (`\\\\frac{1}{2}`, JSON inside JSON) is read once unescaped when
it is so uniformly: every run of backslashes has even length and one of them starts a command or
an escaped brace. A singly escaped answer always has an odd run (`\\begin`, `\\frac`), so its `\\\\`
row separators are left alone.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from fractions import Fraction

MAX_CANONICAL_CHARS = 2000  # longer answers are compared as stripped strings only
_MAX_NUMBER_DIGITS = 60  # numbers with more digits keep their text form

_UNICODE = {
    "\u2212": "-",  # minus sign
    "\u2010": "-",  # hyphen, non-breaking hyphen, figure dash
    "\u2011": "-",
    "\u2012": "-",
    "\u2715": "\\times ",
    "\u2716": "\\times ",
    "\u2217": "\\cdot ",
    "\u2260": "\\ne ",
    "\u02da": "^\\circ",  # ring above, typed for a degree sign
    "\u200e": "",  # left-to-right and right-to-left marks (not the overrides)
    "\u200f": "",
    "\u2013": "-",
    "\u2014": "-",
    "\u00d7": "\\times ",
    "\u22c5": "\\cdot ",
    "\u00b7": "\\cdot ",
    "\u00f7": "\\div ",
    "\u03c0": "\\pi ",
    "\u221e": "\\infty ",
    "\u00b0": "^\\circ",
    "\u2264": "\\le ",
    "\u2265": "\\ge ",
    "\u00b1": "\\pm ",
    "\u222a": "\\cup ",
    "\u2229": "\\cap ",
    "\u00bd": "\\frac{1}{2}",
    "\u2153": "\\frac{1}{3}",
    "\u2154": "\\frac{2}{3}",
    "\u00bc": "\\frac{1}{4}",
    "\u00be": "\\frac{3}{4}",
    "\u00b2": "^2",
    "\u00b3": "^3",
    "\u00b9": "^1",
    "\u2070": "^0",
    "\u00a0": " ",
    "\u2009": " ",
    "\u200b": "",
    "\u200c": "",
    "\u200d": "",
    "\u2060": "",
    "\ufeff": "",  # byte-order mark
    "\u00ad": "",  # soft hyphen
    "\u00ba": "^\\circ",  # masculine ordinal, typed for a degree sign (NFKC would make it `o`)
    "\u2205": "\\emptyset ",
    "\u211d": "\\mathbb{R}",  # NFKC would make it a plain `R`
    "\u221c": "\\sqrt[4]",
    "\u03b1": "\\alpha ",
    "\u03b2": "\\beta ",
    "\u03b3": "\\gamma ",
    "\u03b4": "\\delta ",
    "\u03b8": "\\theta ",
    "\u03bb": "\\lambda ",
    "\u03bc": "\\mu ",
    "\u03c3": "\\sigma ",
    "\u03c4": "\\tau ",
    "\u03c6": "\\phi ",
    "\u03c9": "\\omega ",
    "\u221a": "\\sqrt",
    "\u2044": "/",  # fraction slash, from NFKC of vulgar fractions such as the one fifth sign
    "\u221b": "\\sqrt[3]",
}
_UNICODE_RE = re.compile("|".join(re.escape(k) for k in _UNICODE))

_UNIT_WORDS = (
    "percent|percentage|percentages|per cent|pct|square units|square feet|square inches|square meters|square centimeters|square cm|sq units|"
    "cubic units|cubic feet|cubic inches|cubic meters|cubic centimeters|units|unit|cm|mm|km|m|"
    "meters|meter|centimeters|inches|inch|feet|foot|ft|yards|yard|miles|mile|mph|hours|hour|"
    "minutes|minute|seconds|second|days|day|weeks|week|years|year|degrees|degree|dollars|dollar|"
    "cents|cent|pounds|pound|ounces|ounce|gallons|gallon|liters|liter|grams|gram|kg|sq|mi|hrs|hr|"
    "min|sec|s|in|deg|degs|people|students|ways|points|marbles|cookies|coins|rooms|handshakes|games|"
    "positive integers|integers|numbers|digits|terms|times|values|solutions|outfits|pairs"
)
# `\text{ cm}^2`, `\mbox{inches}` after something: a unit, dropped.
_TEXT_UNIT_RE = re.compile(
    r"(?<=[\w})\]])\s*\\(?:text|mbox|textrm|textnormal|mathrm)\{\s*(?:"
    + _UNIT_WORDS
    + r")\s*\}(?:\^\{?[23]\}?)?"
)
_TEXT_WRAP_RE = re.compile(
    r"\\(?:text|textbf|textit|textrm|textnormal|textsf|mbox|mathrm|mathbf|mathit|operatorname)\s*\{([^{}]*)\}"
)
_BARE_UNIT_RE = re.compile(r"(?<=[\d})])\s+(?:" + _UNIT_WORDS + r")(?:\^\{?[23]\}?)?\s*$")
# `135 degrees, 45 degrees`: a unit word before a list comma (left as a space before the comma).
_LISTED_UNIT_RE = re.compile(r"(?<=\d)\s+(?:" + _UNIT_WORDS + r")(?:\^\{?[23]\}?)?(?=\s*,)")
# `12cm`: glued to a number, only units of two letters or more (`4s` may be 4 times s).
_GLUED_UNIT_RE = re.compile(
    r"(?<=\d)(?:"
    + "|".join(w for w in _UNIT_WORDS.split("|") if len(w) > 1)
    + r")(?:\^\{?[23]\}?)?$"
)
_WRAPPED_MATRIX_RE = re.compile(r"^[\[(](\\begin\{[a-zA-Z]*\}.*\\end\{[a-zA-Z]*\})[\])]$")
_DEGREE_RE = re.compile(
    r"\^\s*(?:\{\s*\\circ\s*\}|\\circ)(?:\s*\\text\{\s*[CF]\s*\}|[CF]\b)?|\\circ|\\degree|\^\s*\{\s*o\s*\}|(?<=\d)\^o$"
)
_SPACING_RE = re.compile(
    r"(?<!\\)\\[,;:! ]|\\quad|\\qquad|~|\\displaystyle|\\left\.|\\right\.|\\left|\\right|\\big|\\Big|"
    r"\\(?:bf|it|rm|sf)(?![a-zA-Z])|\\(?:text)?color\{[a-zA-Z]*\}|\\underline"
)
_LT_GT_RE = re.compile(r"\\([lg])t(?![a-zA-Z])")
_LEQ_RE = re.compile(r"\\([lg]e)(?:q|qslant|slant)?(?![a-zA-Z])")
_FRAC_ALIAS_RE = re.compile(r"\\(?:[dt]|nice|s)frac")
# `{1 \over 2}`, `{6 \choose 2}` (plain TeX): \frac and \binom.
_OVER_RE = re.compile(
    r"\{([^{}]*)\\(over|choose)(?![a-zA-Z])([^{}]*)\}|^([^{}]*)\\(over|choose)(?![a-zA-Z])([^{}]*)$"
)
_SHORT_FRAC_RE = re.compile(r"\\frac\s*(\d)\s*(\d)")
_SHORT_FRAC_BRACE_RE = re.compile(r"\\frac\s*\{([^{}]*)\}\s*(\d)")
_SHORT_FRAC_FIRST_RE = re.compile(r"\\frac\s*(\d)\s*\{")
_SHORT_SQRT_RE = re.compile(r"\\sqrt\s*(\d+|[a-zA-Z])")
_THOUSANDS_RE = re.compile(r"^-?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$", re.ASCII)
_LIST_READING_RE = re.compile(r"^-?[1-9]\d{0,2}(?:,[1-9]\d\d)+$", re.ASCII)
# A comma next to whitespace between two digits: a list separator (see the module docstring).
_SPACED_COMMA_RE = re.compile(r"(?<=\d)(?:\s+,\s*|,\s+)(?=-?\d)", re.ASCII)
_SEPARATOR = "\x01"  # stands for a spaced comma until the thousands step
_BACKSLASH_RUN_RE = re.compile(r"\\+")
_ESCAPED_COMMAND_RE = re.compile(r"(?<!\\)(?:\\\\)+(?:[a-zA-Z{}%$,;:!])")
# `\ne`, `\not=`, `!=` (not after a digit or a bracket, where `!` is a factorial: `5!=120`).
_NEQ_RE = re.compile(r"\\ne(?![a-zA-Z])|\\not\s*=|(?<=\s)!=|(?<![\d)}\]!\s\\])!=")
_MIXED_NUMBER_RE = re.compile(r"^(-?)(\d+)\\frac\{(\d+)\}\{(\d+)\}$", re.ASCII)
_LOG_BASE_RE = re.compile(r"\\log_(\d)")
_VAR_PREFIX_RE = re.compile(
    r"^(?:[a-zA-Z](?:_\{?\w+\}?)?(?:\((?:[a-z]|-?\d+)\))?|[A-Z]{2,3}|\\[a-z]+)=(?!=)"
)
_COMMAND_RE = re.compile(r"\\[a-zA-Z]+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MARKED_THOUSANDS_RE = re.compile(r"(\d)(?:,\\!|\{,\})(?=\d{3}(?!\d))", re.ASCII)
_BOXED_RE = re.compile(r"^\s*\\(?:boxed|fbox)\s*\{(.*)\}\s*$")
# `65\text{ children tickets}`: words in a trailing \text after a value are a unit or a label.
_TRAILING_TEXT_RE = re.compile(
    r"(?<=[\d})\]])\s*\\(?:text|mbox|textrm|textnormal)\{(?=[^{}]*[a-zA-Z]{2})\s*[a-zA-Z][a-zA-Z\s.'-]*\}"
    r"(?:\^\{?[23]\}?)?\s*$"
)
_REALS_RE = re.compile(
    r"\\mathbb\s*\{\s*R\s*\}|\\mathbb\s*R(?![a-zA-Z])|\\R(?![a-zA-Z])|"
    r"\\(?:text|mbox)\{\s*(?:[Aa]ll )?real(?:s| numbers)\s*\}|^(?:[Aa]ll )?real(?:s| numbers)$"
)
# `\{x : 0 < x \le 1\}`, `\{x \mid x > 2\}`: the condition (an inequality, read as an interval).
_SET_BUILDER_RE = re.compile(r"^\\\{[a-zA-Z](?::|\\mid|\|)(.+)\\\}$")
_CHOICE_RE = re.compile(r"^\(?([A-Z])\)$")
_EMPTY_SET_RE = re.compile(r"\\varnothing|\\emptyset|\\\{\s*\\\}|\\O(?![a-zA-Z])")
# `12\text{ and }13`, `6, 8\text{, and }10`: a list, whatever the spacing inside the \text.
_TEXT_CONNECTIVE_RE = re.compile(
    r",?\s*\\(?:text|mbox|textrm|textnormal)\s*\{\s*,?\s*(?:or|and)\s*,?\s*\}\s*,?\s*"
)
_CONNECTIVE_RE = re.compile(r"(?:(?<=[\w})\]])\s+|,\s*)(?:or|and)\s+(?=[-\w\\({\[])")
_ASCII_MIXED_RE = re.compile(r"^(-?\d+)\s+(\d+)/(\d+)$", re.ASCII)
_REPEATING_RE = re.compile(r"^(-?)(\d*)\.(\d*)\\overline\{(\d{1,20})\}$", re.ASCII)
_COMMAND_SPACE_RE = re.compile(r"(\\[a-zA-Z]+)\s+(?=[a-zA-Z])")
_SET_MEMBER_RE = re.compile(r"^[a-zA-Z](?:\([a-z]\))?\\in(?![a-zA-Z])")  # `x \in`, `f(x) \in`
_PERCENT_RE = re.compile(r"\\?%|\\percent(?![a-zA-Z])")
_PLAIN_NUMBER_RE = re.compile(r"^(-?)(\d*\.?\d+)(?:e([-+]?\d{1,4}))?$", re.IGNORECASE | re.ASCII)
_PLAIN_FRACTION_RE = re.compile(
    r"^(-?)(?:\\frac\{(-?\d+)\}\{(-?\d+)\}|\(?(-?\d+)/(-?\d+)\)?)$", re.ASCII
)


def _ascii_digit(char: str) -> str:
    return str(unicodedata.digit(char, char)) if char.isdigit() else char


_SUPERSCRIPTS = dict(
    zip("\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u207b\u207a", "0123456789-+")
)
_SUBSCRIPTS = dict(
    zip("\u2080\u2081\u2082\u2083\u2084\u2085\u2086\u2087\u2088\u2089", "0123456789")
)
_SUPERSCRIPT_RE = re.compile("[" + "".join(_SUPERSCRIPTS) + "]+")
_SUBSCRIPT_RE = re.compile("[" + "".join(_SUBSCRIPTS) + "]+")


def _replace_unicode(text: str) -> str:
    # Runs of superscripts and subscripts: `10⁻³` is `10^{-3}`, `x₁₂` is `x_{12}`.
    text = _SUPERSCRIPT_RE.sub(
        lambda m: "^{" + "".join(_SUPERSCRIPTS[c] for c in m.group(0)) + "}", text
    )
    text = _SUBSCRIPT_RE.sub(
        lambda m: "_{" + "".join(_SUBSCRIPTS[c] for c in m.group(0)) + "}", text
    )
    text = _UNICODE_RE.sub(lambda m: _UNICODE[m.group(0)], text)
    if not text.isascii():
        # Compatibility forms (`１`, `𝟏`, `ﬁ`) and other scripts' digits (`١`) to ASCII.
        text = unicodedata.normalize("NFKC", text)
        text = "".join(_ascii_digit(ch) if ord(ch) > 127 else ch for ch in text)
    # `√2` became `\sqrt2`, `√(x+1)` became `\sqrt(x+1)`: brace a parenthesised radicand.
    return re.sub(r"\\sqrt\(([^()]*)\)", r"\\sqrt{\1}", text)


def _over(match: re.Match) -> str:
    groups = match.groups()
    num, kind, den = groups[:3] if groups[1] else groups[3:]
    return f"\\{'frac' if kind == 'over' else 'binom'}{{{num}}}{{{den}}}"


def _strip_text(text: str) -> str:
    text = _TEXT_UNIT_RE.sub(" ", text)  # a space: `45\text{ cm},135\text{ cm}` stays a list
    for _ in range(3):  # nested wrappers such as \textbf{\text{..}}; bounded
        new = _TEXT_WRAP_RE.sub(r"\1", text)
        if new == text:
            break
        text = new
    return text


def number_key(text: str) -> str | None:
    """A plain number (`0.5`, `-3`, `\\frac{1}{2}`, `1/2`, `2e3`) as a reduced `p/q` or `p`; else None."""
    if len(text) > _MAX_NUMBER_DIGITS:
        return None
    match = _PLAIN_NUMBER_RE.match(text)
    mixed = _MIXED_NUMBER_RE.match(text)
    repeating = _REPEATING_RE.match(text)
    if repeating:  # `0.\overline{3}` is 1/3
        sign, whole, fixed, period = repeating.groups()
        value = Fraction(int(whole or 0)) + Fraction(int(fixed or 0), 10 ** len(fixed))
        value += Fraction(int(period), (10 ** len(period) - 1) * 10 ** len(fixed))
        value = -value if sign else value
    elif mixed:  # `2\frac{1}{2}` is the mixed number 5/2 in MATH answers
        sign, whole, num, den = mixed.groups()
        if int(den) == 0:
            return None
        value = int(whole) + Fraction(int(num), int(den))
        value = -value if sign else value
    elif match:
        sign, digits, exp = match.groups()
        value = Fraction(digits) * (Fraction(10) ** int(exp or 0))
        value = -value if sign else value
    else:
        match = _PLAIN_FRACTION_RE.match(text)
        if not match:
            return None
        sign = match.group(1)
        num, den = (match.group(2), match.group(3)) if match.group(2) else match.groups()[3:5]
        if int(den) == 0:
            return None
        value = Fraction(int(num), int(den))
        value = -value if sign else value
    return str(value)


def canonical_form(answer: str) -> str:
    """Cheap normal form of an answer; equal non-empty canonical forms imply `is_equiv` (see the
    module docstring). Memoised: samples repeat answers, and `is_equiv` canonicalises again."""
    if not isinstance(answer, str):
        return ""
    return _canonical_form(answer)


def clear_canonical_cache() -> None:
    """Forgets memoised canonical forms."""
    _canonical_form.cache_clear()


def list_reading(answer: str) -> str | None:
    """The list reading of a bare `ddd,ddd` answer (`81,256` -> `81;256`), which `canonical_form`
    reads as one number; None for any other answer (see the module docstring)."""
    if not isinstance(answer, str) or len(answer) > MAX_CANONICAL_CHARS:
        return None
    return _list_reading(answer)


@functools.lru_cache(maxsize=1 << 12)
def _list_reading(answer: str) -> str | None:
    text = _before_thousands(answer.strip())
    if _SEPARATOR not in text and _LIST_READING_RE.match(text):
        return text.replace(",", ";")
    return None


def _undouble_backslashes(text: str) -> str:
    """`\\\\frac{1}{2}` -> `\\frac{1}{2}` when the whole text is uniformly double-escaped."""
    for _ in range(2):  # escaped twice or three times over; bounded
        if "\\\\" not in text or not _ESCAPED_COMMAND_RE.search(text):
            break
        if any(len(run) % 2 for run in _BACKSLASH_RUN_RE.findall(text)):
            break
        text = _BACKSLASH_RUN_RE.sub(lambda m: m.group(0)[: len(m.group(0)) // 2], text)
    return text


def _resolve_separators(text: str) -> str:
    """Spaced commas (marked `_SEPARATOR`) separate items; a bare thousands number inside an item
    is a number; a list that would read as one number when joined by `,` is joined by `;`."""
    items = text.split(_SEPARATOR)
    items = [item.replace(",", "") if _THOUSANDS_RE.match(item) else item for item in items]
    joined = ",".join(items)
    return ";".join(items) if _THOUSANDS_RE.match(joined) else joined


@functools.lru_cache(maxsize=1 << 16)
def _canonical_form(answer: str) -> str:
    text = answer.strip()
    if len(text) > MAX_CANONICAL_CHARS:
        return text
    text = _before_thousands(text)
    if _SEPARATOR in text:
        text = _resolve_separators(text)
    elif _THOUSANDS_RE.match(text):
        text = text.replace(",", "")
    text = _WRAPPED_MATRIX_RE.sub(r"\1", text)  # `\left[\begin{array}..\end{array}\right]`
    if text.startswith("+"):
        text = text[1:]
    if text.startswith("{") and text.endswith("}") and text.count("{") == 1:
        text = text[1:-1]
    key = number_key(text)
    return key if key is not None else text


def _before_thousands(text: str) -> str:
    """The canonical steps before thousands separators are read (`text` stripped, not too long)."""
    text = _CONTROL_RE.sub("", text)
    text = _undouble_backslashes(text)
    text = _replace_unicode(text)
    text = _NEQ_RE.sub(r"\\neq ", text)  # `\ne`, `\not=`, `!=` (and `≠`, by now `\ne`)
    text = _ASCII_MIXED_RE.sub(r"\1\\frac{\2}{\3}", text)  # `2 1/2` is the mixed number 5/2
    text = text.replace("\\$", "").replace("$", "")
    for _ in range(3):  # `\boxed{\boxed{5}}`; bounded
        text = _BOXED_RE.sub(r"\1", text)
    text = text.replace("\\langle", "(").replace("\\rangle", ")")
    text = _PERCENT_RE.sub("", text)
    text = _MARKED_THOUSANDS_RE.sub(r"\1", text)  # `5,\!525` inside a larger answer
    text = _SPACING_RE.sub(" ", text)
    text = _FRAC_ALIAS_RE.sub(r"\\frac", text)
    text = _OVER_RE.sub(_over, text).replace("\\surd", "\\sqrt")
    text = _LEQ_RE.sub(lambda m: "\\" + m.group(1) + " ", text)  # `\leq`, `\leqslant` -> `\le`
    text = _LT_GT_RE.sub(lambda m: "<" if m.group(1) == "l" else ">", text)
    text = _LOG_BASE_RE.sub(r"\\log_{\1}", text)
    text = _DEGREE_RE.sub(" ", text)  # a space: `45^\circ,135^\circ` stays a list
    text = _REALS_RE.sub(r"(-\\infty,\\infty)", text)
    text = _EMPTY_SET_RE.sub(r"\\emptyset ", text)
    text = _TRAILING_TEXT_RE.sub("", text)
    text = _TEXT_CONNECTIVE_RE.sub(", ", text)  # spaced: a list comma, not a thousands one
    text = _strip_text(text)
    text = _CONNECTIVE_RE.sub(", ", text)  # `1 or 2`, `x=1 and x=2`: a list
    text = _LISTED_UNIT_RE.sub(" ", text)
    text = _BARE_UNIT_RE.sub("", text.strip())
    text = _GLUED_UNIT_RE.sub("", text)
    text = text.replace("{,}", ",").replace("\\dots", "\\ldots").replace("\\cdots", "\\ldots")
    text = text.strip().rstrip(".").strip()
    text = _SPACED_COMMA_RE.sub(_SEPARATOR, text)  # list commas, never thousands separators
    # Spaces go, except one that keeps a command apart from a following letter (`\sec x`).
    text = _COMMAND_SPACE_RE.sub("\\1\x00", text)
    text = re.sub(r"\s+", "", text).replace("\x00", " ")
    text = _SET_MEMBER_RE.sub("", text)
    text = _SET_BUILDER_RE.sub(r"\1", text)
    text = _CHOICE_RE.sub(r"\1", text)  # `(A)`, `A)`: a multiple-choice letter
    if text in ("infinity", "+infinity", "-infinity", "inf", "+inf", "-inf"):
        text = text.replace("infinity", "inf").replace("inf", "\\infty").lstrip("+")
    text = _SHORT_FRAC_RE.sub(r"\\frac{\1}{\2}", text)
    text = _SHORT_FRAC_BRACE_RE.sub(r"\\frac{\1}{\2}", text)
    text = _SHORT_FRAC_FIRST_RE.sub(r"\\frac{\1}{", text)
    text = _SHORT_SQRT_RE.sub(r"\\sqrt{\1}", text)
    if text.count("=") == 1:
        match = _VAR_PREFIX_RE.match(text)
        # `x=5` -> `5`, but an equation such as `y=2x+3` stays one (its right side has variables).
        if match and not re.search(r"[a-zA-Z]", _COMMAND_RE.sub("", text[match.end() :])):
            text = text[match.end() :]
    return text
