"""A small fake of `mathft_jax.grading` so evaluation tests do not depend on the real grader."""

import re
from fractions import Fraction

from mathft_jax.evaluation.grade import Grader

_BOXED = re.compile(r"\\boxed\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")


def fake_extract(text: str) -> str | None:
    found = _BOXED.findall(text)
    return found[-1] if found else None


def fake_canon(answer: str) -> str:
    """Cheap normalisation: no spaces, \\dfrac -> \\frac, no \\left/\\right."""
    out = answer.replace("\\left", "").replace("\\right", "").replace("\\dfrac", "\\frac")
    return re.sub(r"\s+", "", out)


def _value(answer: str):
    text = fake_canon(answer)
    m = re.fullmatch(r"\\frac\{(-?\d+)\}\{(\d+)\}", text)
    if m:
        return Fraction(int(m[1]), int(m[2]))
    m = re.fullmatch(r"(-?\d+)/(\d+)", text)
    if m:
        return Fraction(int(m[1]), int(m[2]))
    try:
        return Fraction(text)
    except ValueError:
        return text.lower()


class CountingGrader:
    """Fake grader that records every `equiv` call (to check only representatives are compared)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def equiv(self, a: str, b: str) -> bool:
        self.calls.append((a, b))
        return _value(a) == _value(b)

    def grader(self) -> Grader:
        return Grader(fake_extract, self.equiv, fake_canon)
