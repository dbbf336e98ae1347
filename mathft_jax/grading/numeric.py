"""Guarded evaluation of parsed answers: exact rationals first, then 40-digit mpmath floats.

One visitor (`Evaluator`) walks the tree; the arithmetic it computes in is a parameter:
`EXACT` (`ExactArithmetic`, Python `Fraction`s) or `FLOAT` (`FloatArithmetic`, 40-digit mpmath).

Every value is bounded so no answer can blow up: exponents, factorials, binomials, function
arguments, magnitudes and exact-integer sizes, with a wall-clock deadline checked at every node
(cooperative, so it works off the main thread). A violated bound raises `GuardError` (or
`NotExact`, which only sends the caller to the float evaluator).
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Any

import mpmath

from mathft_jax.grading.latex_parser import DeadlineExceeded, GuardError, Node, ParseError

PRECISION_DPS = 40
# A private context: its precision is never changed after this line, so evaluation is thread-safe
# (mpmath.workdps would change the global context under other threads' feet).
MP = mpmath.MPContext()
MP.dps = PRECISION_DPS
# Values are 40-digit floats, so size costs nothing until an exponent itself gets huge: bound that.
MAX_EXPONENT = 1_000_000  # |b| in a^b when |a| is not 0 or 1
MAX_LOG10_MAGNITUDE = 10_000_000  # |log10(value)| of any intermediate value
_MAX_LOG2_MAGNITUDE = int(MAX_LOG10_MAGNITUDE * math.log2(10))
MAX_FACTORIAL = 100_000
MAX_FUNCTION_ARGUMENT = 100_000  # |x| in sin x, exp x, ...

FUNCTIONS = {
    "sin": MP.sin, "cos": MP.cos, "tan": MP.tan, "cot": MP.cot,
    "sec": MP.sec, "csc": MP.csc, "arcsin": MP.asin, "arccos": MP.acos,
    "arctan": MP.atan, "sinh": MP.sinh, "cosh": MP.cosh, "tanh": MP.tanh,
    "ln": MP.log, "log": MP.log, "exp": MP.exp, "sqrt": MP.sqrt,
}  # fmt: skip


def _decimal_exponent(token: str) -> int:
    """|e| of a numeral `1.5e<e>` (0 without one), read without building the number."""
    _, sep, exponent = token.lower().partition("e")
    if not sep:
        return 0
    digits = exponent.lstrip("+-").lstrip("0")
    return 10**30 if len(digits) > 30 else int(digits or 0)


def _check(value: Any) -> Any:
    try:
        magnitude = abs(value)
    except (TypeError, ValueError) as err:
        raise GuardError("not a number") from err
    # `mag` is ceil(log2 |x|) (+-1) read off the float's exponent: ~50x cheaper than a log10.
    if magnitude != 0 and MP.isfinite(magnitude) and abs(MP.mag(magnitude)) > _MAX_LOG2_MAGNITUDE:
        raise GuardError("intermediate value out of range")
    return value


class Evaluator:
    """Evaluates a tree at a point (`env` maps symbol names to values) under a deadline, in the
    values and operations of `arithmetic` (`FLOAT`: 40-digit mpmath; `EXACT`: rationals). One
    visitor for both, so the two evaluators cannot drift apart on the tree's shape."""

    def __init__(self, arithmetic: Any, env: dict[str, Any], deadline: float):
        self.arithmetic = arithmetic
        self.env = env
        self.deadline = deadline

    def __call__(self, node: Node) -> Any:
        if time.perf_counter() > self.deadline:
            raise DeadlineExceeded("grading deadline exceeded")
        kind = node[0]
        arithmetic = self.arithmetic
        if kind == "num":
            if _decimal_exponent(node[1]) > arithmetic.max_decimal_exponent:
                raise arithmetic.number_too_large("number out of range")
            return arithmetic.number(node[1])
        if kind == "sym":
            return arithmetic.symbol(node[1], self.env)
        if kind == "add":
            return arithmetic.add([self(child) for child in node[1]])
        if kind == "mul":
            check = arithmetic.check
            result = arithmetic.one
            for child in node[1]:
                result = check(result * self(child))
            return result
        if kind == "neg":
            return -self(node[1])
        if kind == "div":
            num, den = self(node[1]), self(node[2])
            return arithmetic.divide(num, den)
        if kind == "pow":
            base = self(node[1])
            return arithmetic.power(base, self(node[2]))
        if kind == "fact":
            return arithmetic.factorial(self(node[1]))
        if kind == "fn":
            return arithmetic.function(node[1], [self(arg) for arg in node[2]])
        raise arithmetic.unknown_node(f"unknown node {kind}")


class FloatArithmetic:
    """40-digit mpmath values; a violated bound raises GuardError."""

    one = MP.mpf(1)
    number = MP.mpf  # of a numeral whose decimal exponent is at most `max_decimal_exponent`
    max_decimal_exponent = MAX_LOG10_MAGNITUDE
    number_too_large = GuardError
    unknown_node = ParseError
    check = staticmethod(_check)

    @staticmethod
    def symbol(name: str, env: dict[str, Any]) -> Any:
        if name == "\\pi":
            return +MP.pi
        if name in ("\\e", "e"):
            return +MP.e
        if name == "i":
            return MP.mpc(0, 1)
        if name == "\\inf":
            return MP.inf
        if name not in env:
            raise GuardError(f"no value for symbol {name}")
        return env[name]

    @staticmethod
    def add(values: list[Any]) -> Any:
        return _check(MP.fsum(values))

    @staticmethod
    def divide(num: Any, den: Any) -> Any:
        if den == 0:
            raise GuardError("division by zero")
        return _check(num / den)

    @staticmethod
    def factorial(value: Any) -> Any:
        if MP.im(value) != 0 or value < 0 or value != MP.floor(value.real):
            raise GuardError("factorial of a non-natural number")
        if value > MAX_FACTORIAL:
            raise GuardError("factorial too large")
        return MP.factorial(value)

    @staticmethod
    def power(base: Any, exponent: Any) -> Any:
        if base in (0, 1) and exponent != 0:
            return base if base == 1 or MP.re(exponent) > 0 else MP.inf
        if abs(exponent) > MAX_EXPONENT:
            raise GuardError("exponent too large")
        magnitude = abs(base)
        if magnitude not in (0, 1) and MP.isfinite(magnitude):
            if abs(MP.re(exponent) * MP.log10(magnitude)) > MAX_LOG10_MAGNITUDE:
                raise GuardError("power out of range")
        if MP.im(base) == 0 and base < 0 and MP.im(exponent) == 0:
            # Real odd roots of negatives, as a MATH reader means them: (-8)^(1/3) = -2.
            den = 1 / exponent if exponent != 0 else 0
            if den != 0 and abs(den - MP.nint(den)) < 1e-30 and int(MP.nint(den)) % 2:
                return -((-base) ** exponent)
        return _check(MP.power(base, exponent))

    @staticmethod
    def function(name: str, args: list[Any]) -> Any:
        if name == "binom":
            n, k = args
            if abs(n) > MAX_FACTORIAL or abs(k) > MAX_FACTORIAL:
                raise GuardError("binomial too large")
            return MP.binomial(n, k)
        if name == "abs":
            return abs(args[0])
        if name == "lfloor":
            return MP.floor(args[0])
        if name == "lceil":
            return MP.ceil(args[0])
        (arg,) = args
        # Periodic functions reduce their argument at a precision that grows with its size (sin of
        # 10^(10^6) would need a million digits of pi); exponentials grow out of range.
        if abs(arg) > MAX_FUNCTION_ARGUMENT:
            raise GuardError(f"argument of {name} out of range")
        return _check(FUNCTIONS[name](arg))


FLOAT = FloatArithmetic()


def evaluate(tree: Node, env: dict[str, Any], deadline: float) -> Any:
    """The value of `tree` at `env`, at `PRECISION_DPS` digits; GuardError on any bound."""
    try:
        return Evaluator(FLOAT, env, deadline)(tree)
    except (ZeroDivisionError, OverflowError, ValueError, TypeError) as err:
        if isinstance(err, GuardError):
            raise
        raise GuardError(f"evaluation failed: {err}") from err


class NotExact(ValueError):
    """The tree leaves the rationals (pi, roots, logs, ...) or exact arithmetic would get too big."""


class ExactTooLarge(NotExact):
    """The value may be rational but is too big to compute exactly; 40-digit floats cannot tell
    `2^{100000}` from `2^{100000}+1`, so callers must not fall back to them."""


MAX_EXACT_BITS = 20_000  # numerator/denominator size of exact intermediate values


def _exact_check(value: Fraction) -> Fraction:
    if (
        value.numerator.bit_length() > MAX_EXACT_BITS
        or value.denominator.bit_length() > MAX_EXACT_BITS
    ):
        raise ExactTooLarge("exact value too large")
    return value


class ExactArithmetic:
    """Exact rationals, so that `3^{100}` and `3^{100}+1` differ even though they agree to 40
    digits. Raises NotExact where the value may be irrational, ExactTooLarge where it may be huge."""

    one = Fraction(1)
    number = Fraction
    max_decimal_exponent = 1_000
    number_too_large = ExactTooLarge
    unknown_node = NotExact
    check = staticmethod(_exact_check)

    @staticmethod
    def symbol(name: str, env: dict[str, Fraction]) -> Fraction:
        if name not in env:
            raise NotExact(f"{name} is not a rational")
        return env[name]

    @staticmethod
    def add(values: list[Fraction]) -> Fraction:
        return _exact_check(sum(values, Fraction(0)))

    @staticmethod
    def divide(num: Fraction, den: Fraction) -> Fraction:
        if den == 0:
            raise NotExact("division by zero")
        return _exact_check(num / den)

    @staticmethod
    def factorial(value: Fraction) -> Fraction:
        if value.denominator != 1 or value < 0:
            raise NotExact("factorial outside the naturals")
        if value > 2_000:
            raise ExactTooLarge("factorial above 2000!")
        return Fraction(math.factorial(int(value)))

    @staticmethod
    def power(base: Fraction, exponent: Fraction) -> Fraction:
        if exponent.denominator != 1:
            raise NotExact("fractional power")
        bits = max(base.numerator.bit_length(), base.denominator.bit_length())
        if abs(exponent) * bits > MAX_EXACT_BITS and abs(base) != 1:
            raise ExactTooLarge("power too large")
        if base == 0 and exponent < 0:
            raise NotExact("division by zero")
        return base ** int(exponent)

    @staticmethod
    def function(name: str, args: list[Fraction]) -> Fraction:
        if name == "abs":
            return abs(args[0])
        if name == "lfloor":
            return Fraction(math.floor(args[0]))
        if name == "lceil":
            return Fraction(math.ceil(args[0]))
        if name == "binom":
            n, k = args
            if n.denominator != 1 or k.denominator != 1 or n < 0:
                raise NotExact("binomial outside the naturals")
            if n > 5_000:
                raise ExactTooLarge("binomial above n = 5000")
            return Fraction(math.comb(int(n), int(k))) if k >= 0 else Fraction(0)
        if name == "sqrt":
            (x,) = args
            if x >= 0:
                num, den = math.isqrt(x.numerator), math.isqrt(x.denominator)
                if num * num == x.numerator and den * den == x.denominator:
                    return Fraction(num, den)
        raise NotExact(f"{name} is not exact here")


EXACT = ExactArithmetic()


def evaluate_exact(tree: Node, env: dict[str, Fraction], deadline: float) -> Fraction:
    """The exact rational value of `tree` at `env`; NotExact when there is none at hand."""
    return Evaluator(EXACT, env, deadline)(tree)
