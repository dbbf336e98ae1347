"""A whitelist tokenizer and recursive-descent parser for the LaTeX/ASCII subset of MATH answers, and a
guarded numeric evaluator of what it parses.

Model output never reaches `eval`, `sympify` or `parse_expr`: the parser only knows numbers, single
letters (with subscripts), a fixed table of commands and functions, and operators, and builds a small
tuple AST. Everything is bounded so that no input can blow up: input length, token count, recursion
depth, node count, exponent and factorial sizes, magnitudes, and a wall-clock deadline checked at every
node (cooperative, so it works off the main thread). A violated bound raises `GuardError`; text outside
the grammar raises `ParseError`. Callers answer "not equivalent" on either.

AST nodes: ("num", digits) ("sym", name) ("add", [n]) ("mul", [n]) ("neg", n) ("div", a, b) ("pow", a, b)
("fn", name, [args]) ("fact", n).
"""

from __future__ import annotations

import math
import re
import time
from fractions import Fraction
from typing import Any

import mpmath

MAX_CHARS = 600  # a MATH answer is rarely over 100 characters
MAX_TOKENS = 300
MAX_DEPTH = 40
MAX_NODES = 400
# Values are 40-digit floats, so size costs nothing until an exponent itself gets huge: bound that.
MAX_EXPONENT = 1_000_000  # |b| in a^b when |a| is not 0 or 1
MAX_LOG10_MAGNITUDE = 10_000_000  # |log10(value)| of any intermediate value
MAX_FACTORIAL = 100_000
MAX_FUNCTION_ARGUMENT = 100_000  # |x| in sin x, exp x, ...
PRECISION_DPS = 40
# A private context: its precision is never changed after this line, so evaluation is thread-safe
# (mpmath.workdps would change the global context under other threads' feet).
MP = mpmath.MPContext()
MP.dps = PRECISION_DPS

Node = tuple


class ParseError(ValueError):
    """The text is outside the answer grammar."""


class GuardError(ValueError):
    """A size or time bound was hit; the answer counts as not equivalent."""


class DeadlineExceeded(GuardError):
    """The wall-clock budget ran out."""


_TOKEN_RE = re.compile(
    r"\s*(?:"
    r"(?P<num>\d+\.?\d*(?:[eE][-+]?\d+(?![a-zA-Z]))?|\.\d+)"
    r"|(?P<cmd>\\[a-zA-Z]+|\\[{}|])"
    r"|(?P<op>\*\*|[-+*/^_()\[\]{}!,|=<>:;'])"
    r"|(?P<name>[a-zA-Z])"
    r")",
    re.ASCII,
)

_FUNCTIONS = {
    "sin": MP.sin, "cos": MP.cos, "tan": MP.tan, "cot": MP.cot,
    "sec": MP.sec, "csc": MP.csc, "arcsin": MP.asin, "arccos": MP.acos,
    "arctan": MP.atan, "sinh": MP.sinh, "cosh": MP.cosh, "tanh": MP.tanh,
    "ln": MP.log, "log": MP.log, "exp": MP.exp, "sqrt": MP.sqrt,
}  # fmt: skip
_ASCII_FUNCTIONS = ("arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "sqrt", "sin", "cos",
                    "tan", "cot", "sec", "csc", "log", "ln", "exp")  # fmt: skip
_CONSTANTS = {"pi": "pi", "infty": "inf", "infinity": "inf", "e": "e"}
_IGNORED_COMMANDS = {"\\limits", "\\nolimits", "\\mathrm", "\\mathbf", "\\boldsymbol", "\\text"}
_TIMES = {"*", "\\cdot", "\\times", "\\ast"}
_DIVIDE = {"/", "\\div"}
_OPEN_CLOSE = {
    "(": ")",
    "[": "]",
    "{": "}",
    "\\{": "\\}",
    "\\lfloor": "\\rfloor",
    "\\lceil": "\\rceil",
}


def tokenize(text: str) -> list[str]:
    """Splits an answer into tokens; any character outside the grammar is a ParseError."""
    if len(text) > MAX_CHARS:
        raise GuardError(f"answer longer than {MAX_CHARS} characters")
    # ASCII function names (`sqrt(2)`, `sin x`) become commands before letters split into symbols.
    text = re.sub(
        r"(?<![\\a-zA-Z])(" + "|".join(_ASCII_FUNCTIONS) + r")(?=[\s(\d{\\])", r"\\\1", text
    )
    text = re.sub(r"(?<![\\a-zA-Z])pi(?![a-zA-Z])", r"\\pi ", text)
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            if text[pos:].strip() == "":
                break
            raise ParseError(f"unexpected character {text[pos]!r} at column {pos}")
        pos = match.end()
        tokens.append(match.group(match.lastgroup))
        if len(tokens) > MAX_TOKENS:
            raise GuardError(f"more than {MAX_TOKENS} tokens")
    return tokens


class _Parser:
    """Recursive descent over the token list; see the module docstring for the bounds."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.pos = 0
        self.depth = 0
        self.nodes = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise ParseError(f"expected {expected or 'a token'} at token {self.pos}, got {tok!r}")
        self.pos += 1
        return tok

    def node(self, *parts: Any) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise GuardError(f"more than {MAX_NODES} expression nodes")
        return tuple(parts)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise GuardError(f"nesting deeper than {MAX_DEPTH}")

    def expr(self) -> Node:
        self.enter()
        terms = [self.term()]
        while self.peek() in ("+", "-"):
            op = self.take()
            term = self.term()
            terms.append(self.node("neg", term) if op == "-" else term)
        self.depth -= 1
        return terms[0] if len(terms) == 1 else self.node("add", terms)

    def term(self) -> Node:
        result = self.unary()
        while True:
            tok = self.peek()
            if tok in _TIMES:
                self.take()
                result = self.node("mul", [result, self.unary()])
            elif tok in _DIVIDE:
                self.take()
                result = self.node("div", result, self.unary())
            elif tok is not None and self.starts_atom(tok):
                result = self.node("mul", [result, self.power()])
            else:
                return result

    def unary(self) -> Node:
        tok = self.peek()
        if tok in ("-", "+"):
            self.take()
            self.enter()
            inner = self.unary()
            self.depth -= 1
            return self.node("neg", inner) if tok == "-" else inner
        return self.power()

    def starts_atom(self, tok: str) -> bool:
        if tok[0].isdigit() or tok[0] == "." or tok.isalpha() or tok in ("(", "{", "[", "\\{"):
            return True
        return tok.startswith("\\") and tok not in _TIMES | _DIVIDE | {
            "\\}",
            "\\rfloor",
            "\\rceil",
            "\\pm",
            "\\mp",
        }

    def power(self) -> Node:
        base = self.postfix()
        if self.peek() in ("^", "**"):
            self.take()
            self.enter()
            if self.peek() == "{":
                exponent = self.group("{")
            elif self.peek() in ("-", "+"):
                sign = self.take()
                exponent = self.power()
                exponent = self.node("neg", exponent) if sign == "-" else exponent
            else:
                exponent = self.power()
            self.depth -= 1
            base = self.node("pow", base, exponent)
            while self.peek() == "!":
                self.take()
                base = self.node("fact", base)
        return base

    def postfix(self) -> Node:
        result = self.atom()
        while self.peek() == "!":
            self.take()
            result = self.node("fact", result)
        return result

    def group(self, opener: str) -> Node:
        self.take(opener)
        self.enter()
        inner = self.expr()
        self.depth -= 1
        self.take(_OPEN_CLOSE[opener])
        return inner

    def group_text(self) -> str:
        """The raw tokens of a `{...}` subscript, joined (subscripts are names, not values)."""
        self.take("{")
        parts = []
        while self.peek() not in ("}", None):
            parts.append(self.take())
        self.take("}")
        return "".join(parts)

    def braced_or_token(self) -> Node:
        """A command argument: `{...}` or a single token (`\\frac12`, `\\sqrt2`)."""
        if self.peek() == "{":
            return self.group("{")
        tok = self.peek()
        if tok is not None and tok.isdigit() and len(tok) > 1:  # TeX takes one digit: \frac12
            self.tokens[self.pos] = tok[1:]
            return self.node("num", tok[0])
        return self.postfix()

    def atom(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise ParseError("unexpected end of answer")
        if tok[0].isdigit() or tok[0] == ".":
            self.take()
            if self.peek() == "_":  # a numeral in another base, `141_{13}`: an opaque name
                self.take()
                sub = self.group_text() if self.peek() == "{" else self.take()
                return self.node("sym", f"{tok}_{sub}")
            return self.node("num", tok)  # converted at evaluation, at its precision
        if tok.isalpha():
            self.take()
            name = tok
            if self.peek() == "_":
                self.take()
                sub = self.group_text() if self.peek() == "{" else self.take()
                name = f"{tok}_{sub}"
            return self.node("sym", name)
        if tok in ("(", "[", "{", "\\{", "\\lfloor", "\\lceil"):
            inner = self.group(tok)
            if tok in ("\\lfloor", "\\lceil"):
                return self.node("fn", tok[1:], [inner])
            return inner
        if tok == "|":
            self.take()
            self.enter()
            inner = self.expr()
            self.depth -= 1
            self.take("|")
            return self.node("fn", "abs", [inner])
        if tok.startswith("\\"):
            return self.command()
        raise ParseError(f"unexpected token {tok!r} at token {self.pos}")

    def command(self) -> Node:
        tok = self.take()
        name = tok[1:]
        if name == "frac" or name == "cfrac":
            num = self.braced_or_token()
            den = self.braced_or_token()
            return self.node("div", num, den)
        if name == "sqrt":
            index = None
            if self.peek() == "[":
                index = self.group("[")
            radicand = self.braced_or_token()
            if index is None:
                return self.node("fn", "sqrt", [radicand])
            return self.node("pow", radicand, self.node("div", self.node("num", "1"), index))
        if name in ("binom", "dbinom", "tbinom", "choose"):
            return self.node("fn", "binom", [self.braced_or_token(), self.braced_or_token()])
        if name in _CONSTANTS:
            return self.node("sym", "\\" + _CONSTANTS[name])
        if name in ("alpha", "beta", "gamma", "theta", "phi", "lambda", "mu", "omega", "tau"):
            return self.node("sym", "\\" + name)
        if tok in _IGNORED_COMMANDS:
            return self.atom()
        if name in _FUNCTIONS:
            if name == "log" and self.peek() == "_":
                self.take()
                base = self.braced_or_token()
                arg = self.braced_or_token() if self.peek() != "(" else self.group("(")
                return self.node("div", self.node("fn", "ln", [arg]), self.node("fn", "ln", [base]))
            exponent = None
            if self.peek() == "^":  # \sin^2 x
                self.take()
                exponent = self.braced_or_token()
            arg = self.group("(") if self.peek() == "(" else self.power()
            if exponent == ("neg", ("num", "1")) and "arc" + name in _FUNCTIONS:
                return self.node("fn", "arc" + name, [arg])  # \tan^{-1} x is arctan x
            result = self.node("fn", name, [arg])
            return self.node("pow", result, exponent) if exponent is not None else result
        raise ParseError(f"command {tok} is not in the answer grammar")


def parse(text: str) -> Node:
    """Parses one scalar answer expression into an AST (see module docstring)."""
    parser = _Parser(tokenize(text))
    if not parser.tokens:
        raise ParseError("empty answer")
    tree = parser.expr()
    if parser.pos != len(parser.tokens):
        raise ParseError(f"unexpected token {parser.tokens[parser.pos]!r} at token {parser.pos}")
    return tree


def free_symbols(tree: Node) -> set[str]:
    """The variable names of a tree (constants such as `\\pi` excluded)."""
    out: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        kind = node[0]
        if kind == "sym":
            if node[1] not in ("\\pi", "\\inf", "\\e", "e", "i"):
                out.add(node[1])
        elif kind in ("add", "mul"):
            stack.extend(node[1])
        elif kind == "fn":
            stack.extend(node[2])
        elif kind in ("neg", "fact"):
            stack.append(node[1])
        elif kind in ("div", "pow"):
            stack.extend(node[1:])
    return out


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
    if magnitude != 0 and MP.isfinite(magnitude):
        if abs(MP.log10(magnitude)) > MAX_LOG10_MAGNITUDE:
            raise GuardError("intermediate value out of range")
    return value


class Evaluator:
    """Evaluates a tree at a point (`env` maps symbol names to values) under a deadline."""

    def __init__(self, env: dict[str, Any], deadline: float):
        self.env = env
        self.deadline = deadline

    def __call__(self, node: Node) -> Any:
        if time.perf_counter() > self.deadline:
            raise DeadlineExceeded("grading deadline exceeded")
        kind = node[0]
        if kind == "num":
            if _decimal_exponent(node[1]) > MAX_LOG10_MAGNITUDE:
                raise GuardError("number out of range")
            return MP.mpf(node[1])
        if kind == "sym":
            return self.symbol(node[1])
        if kind == "add":
            return _check(MP.fsum([self(child) for child in node[1]]))
        if kind == "mul":
            result = MP.mpf(1)
            for child in node[1]:
                result = _check(result * self(child))
            return result
        if kind == "neg":
            return -self(node[1])
        if kind == "div":
            num, den = self(node[1]), self(node[2])
            if den == 0:
                raise GuardError("division by zero")
            return _check(num / den)
        if kind == "pow":
            return self.power(node)
        if kind == "fact":
            value = self(node[1])
            if MP.im(value) != 0 or value < 0 or value != MP.floor(value.real):
                raise GuardError("factorial of a non-natural number")
            if value > MAX_FACTORIAL:
                raise GuardError("factorial too large")
            return MP.factorial(value)
        if kind == "fn":
            return self.function(node[1], [self(arg) for arg in node[2]])
        raise ParseError(f"unknown node {kind}")

    def symbol(self, name: str) -> Any:
        if name == "\\pi":
            return +MP.pi
        if name in ("\\e", "e"):
            return +MP.e
        if name == "i":
            return MP.mpc(0, 1)
        if name == "\\inf":
            return MP.inf
        if name not in self.env:
            raise GuardError(f"no value for symbol {name}")
        return self.env[name]

    def power(self, node: Node) -> Any:
        base = self(node[1])
        exponent = self(node[2])
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

    def function(self, name: str, args: list[Any]) -> Any:
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
        return _check(_FUNCTIONS[name](arg))


def evaluate(tree: Node, env: dict[str, Any], deadline: float) -> Any:
    """The value of `tree` at `env`, at `PRECISION_DPS` digits; GuardError on any bound."""
    try:
        return Evaluator(env, deadline)(tree)
    except (ZeroDivisionError, OverflowError, ValueError, TypeError) as err:
        if isinstance(err, GuardError):
            raise
        raise GuardError(f"evaluation failed: {err}") from err


class NotExact(ValueError):
    """The tree leaves the rationals (pi, roots, logs, ...) or exact arithmetic would get too big."""


MAX_EXACT_BITS = 20_000  # numerator/denominator size of exact intermediate values


def _exact_check(value: Fraction) -> Fraction:
    if (
        value.numerator.bit_length() > MAX_EXACT_BITS
        or value.denominator.bit_length() > MAX_EXACT_BITS
    ):
        raise NotExact("exact value too large")
    return value


class ExactEvaluator:
    """Evaluates a tree in exact rationals, so that `3^{100}` and `3^{100}+1` differ even though
    they agree to 40 digits. Raises NotExact where the value may be irrational or huge."""

    def __init__(self, env: dict[str, Fraction], deadline: float):
        self.env = env
        self.deadline = deadline

    def __call__(self, node: Node) -> Fraction:
        if time.perf_counter() > self.deadline:
            raise DeadlineExceeded("grading deadline exceeded")
        kind = node[0]
        if kind == "num":
            if _decimal_exponent(node[1]) > 1_000:
                raise NotExact("decimal exponent too large for exact arithmetic")
            return Fraction(node[1])
        if kind == "sym":
            if node[1] not in self.env:
                raise NotExact(f"{node[1]} is not a rational")
            return self.env[node[1]]
        if kind == "add":
            return _exact_check(sum((self(child) for child in node[1]), Fraction(0)))
        if kind == "mul":
            result = Fraction(1)
            for child in node[1]:
                result = _exact_check(result * self(child))
            return result
        if kind == "neg":
            return -self(node[1])
        if kind == "div":
            num, den = self(node[1]), self(node[2])
            if den == 0:
                raise NotExact("division by zero")
            return _exact_check(num / den)
        if kind == "pow":
            return self.power(self(node[1]), self(node[2]))
        if kind == "fact":
            value = self(node[1])
            if value.denominator != 1 or value < 0 or value > 2_000:
                raise NotExact("factorial outside 0..2000")
            return Fraction(math.factorial(int(value)))
        if kind == "fn":
            return self.function(node[1], [self(arg) for arg in node[2]])
        raise NotExact(f"node {kind}")

    def power(self, base: Fraction, exponent: Fraction) -> Fraction:
        if exponent.denominator != 1:
            raise NotExact("fractional power")
        bits = max(base.numerator.bit_length(), base.denominator.bit_length())
        if abs(exponent) * bits > MAX_EXACT_BITS:
            raise NotExact("power too large")
        if base == 0 and exponent < 0:
            raise NotExact("division by zero")
        return base ** int(exponent)

    def function(self, name: str, args: list[Fraction]) -> Fraction:
        if name == "abs":
            return abs(args[0])
        if name == "lfloor":
            return Fraction(math.floor(args[0]))
        if name == "lceil":
            return Fraction(math.ceil(args[0]))
        if name == "binom":
            n, k = args
            if n.denominator != 1 or k.denominator != 1 or not 0 <= n <= 5_000:
                raise NotExact("binomial outside the naturals up to 5000")
            return Fraction(math.comb(int(n), int(k))) if k >= 0 else Fraction(0)
        if name == "sqrt":
            (x,) = args
            if x >= 0:
                num, den = math.isqrt(x.numerator), math.isqrt(x.denominator)
                if num * num == x.numerator and den * den == x.denominator:
                    return Fraction(num, den)
        raise NotExact(f"{name} is not exact here")


def evaluate_exact(tree: Node, env: dict[str, Fraction], deadline: float) -> Fraction:
    """The exact rational value of `tree` at `env`; NotExact when there is none at hand."""
    return ExactEvaluator(env, deadline)(tree)
