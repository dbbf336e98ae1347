"""The whitelist parser and the guarded evaluators (`numeric`): grammar, values, every bound."""

from __future__ import annotations

import time

import pytest

from mathft_jax.grading import latex_parser as lp
from mathft_jax.grading import numeric


def _value(text: str, **env: float):
    tree = lp.parse(text)
    return numeric.evaluate(
        tree, {k: numeric.MP.mpf(v) for k, v in env.items()}, time.perf_counter() + 1.0
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1+2\\cdot3", 7), ("2^3^2", 512), ("-2^2", -4), ("\\frac{1}{2}", 0.5), ("\\frac12", 0.5),
        ("\\sqrt{16}", 4), ("\\sqrt[3]{27}", 3), ("\\sqrt[3]{-8}", -2), ("5!", 120),
        ("\\binom{5}{2}", 10), ("|{-3}|", 3), ("2(3+4)", 14), ("\\lfloor 2.5 \\rfloor", 2),
        ("\\lceil 2.1 \\rceil", 3), ("3\\times10^{-2}", 0.03), ("10**2", 100), ("1.5e3", 1500),
        ("\\log_{2}{8}", 3), ("\\ln e", 1), ("\\sin^2 x + \\cos^2 x", 1), ("2x", 3.0),
    ],
)  # fmt: skip
def test_values(text: str, expected: float) -> None:
    assert abs(_value(text, x=1.5) - numeric.MP.mpf(str(expected))) < 1e-30


def test_symbols_and_constants() -> None:
    assert lp.free_symbols(lp.parse("x^2 + y_1 + \\pi + e + i")) == {"x", "y_1"}
    assert abs(_value("e^{i\\pi}") + 1) < 1e-30
    assert lp.parse("141_{13}") == ("sym", "141_13")  # numerals in a base are opaque names


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "\\input{/etc/passwd}",
        "x.y",
        "\\def\\a{1}",
        "a;b",
        "",
        "\\frac{1}",
        "(1",
        "1)",
        "\\unknown{1}",
    ],
)
def test_outside_the_grammar_is_a_parse_error(text: str) -> None:
    with pytest.raises((lp.ParseError, lp.GuardError)):
        _value(text)


@pytest.mark.parametrize(
    "text",
    [
        "9^{9^{9^{9}}}", "10^{10^{10}}", "2^{2^{2^{2^{2^{2}}}}}", "(10^{7})!", "1000001!",
        "\\binom{10^{9}}{3}", "e^{10^{8}}", "(" * 100 + "1" + ")" * 100, "1+" * 400 + "1", "1" * 700,
    ],
)  # fmt: skip
def test_bounds_raise_guard_errors_quickly(text: str) -> None:
    start = time.perf_counter()
    with pytest.raises(lp.GuardError):
        _value(text)
    assert time.perf_counter() - start < 0.2


def test_every_parsed_function_has_an_evaluator() -> None:
    assert set(numeric.FUNCTIONS) == set(lp.FUNCTION_NAMES)


def test_exact_evaluation_tells_apart_what_floats_cannot() -> None:
    deadline = time.perf_counter() + 1.0
    big = numeric.evaluate_exact(lp.parse("3^{100}"), {}, deadline)
    assert numeric.evaluate_exact(lp.parse("3^{100}+1"), {}, deadline) - big == 1
    with pytest.raises(numeric.NotExact):
        numeric.evaluate_exact(lp.parse("\\sqrt{2}"), {}, deadline)
    with pytest.raises(numeric.NotExact):
        numeric.evaluate_exact(lp.parse("2^{100000}"), {}, deadline)


def test_deadline_is_checked_during_evaluation() -> None:
    tree = lp.parse("1+2+3")
    with pytest.raises(lp.DeadlineExceeded):
        numeric.evaluate(tree, {}, time.perf_counter() - 1.0)
