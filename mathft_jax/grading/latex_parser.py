"""A whitelist tokenizer and recursive-descent parser for the LaTeX/ASCII subset of MATH answers
(`numeric.py` evaluates what it builds).

Model output never reaches `eval`, `sympify` or `parse_expr`: the parser only knows numbers, single
letters (with subscripts), a fixed table of commands and functions, and operators, and builds a small
tuple AST. Parsing is bounded whatever the input: length, token count, recursion depth, node count.
A violated bound raises `GuardError`; text outside the grammar raises `ParseError`. Callers answer
"not equivalent" on either.

AST nodes: ("num", digits) ("sym", name) ("add", [n]) ("mul", [n]) ("neg", n) ("div", a, b) ("pow", a, b)
("fn", name, [args]) ("fact", n).
"""

from __future__ import annotations

import re
from typing import Any

MAX_CHARS = 600  # a MATH answer is rarely over 100 characters
MAX_TOKENS = 300
MAX_DEPTH = 40
MAX_NODES = 400

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

FUNCTION_NAMES = frozenset(("sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan",
                            "sinh", "cosh", "tanh", "ln", "log", "exp", "sqrt"))  # fmt: skip
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
        if name in ("alpha", "beta", "gamma", "delta", "theta", "phi", "lambda", "mu", "omega", "tau",
                    "sigma", "rho", "psi"):  # fmt: skip
            return self.node("sym", "\\" + name)
        if tok in _IGNORED_COMMANDS:
            return self.atom()
        if name in FUNCTION_NAMES:
            if name == "log" and self.peek() == "_":
                self.take()
                base = self.braced_or_token()
                # The argument is a whole number (`\log_3 27`), not TeX's single-digit argument.
                arg = self.group(self.peek()) if self.peek() in ("(", "{") else self.power()
                return self.node("div", self.node("fn", "ln", [arg]), self.node("fn", "ln", [base]))
            exponent = None
            if self.peek() == "^":  # \sin^2 x
                self.take()
                exponent = self.braced_or_token()
            arg = self.group("(") if self.peek() == "(" else self.power()
            if exponent == ("neg", ("num", "1")) and "arc" + name in FUNCTION_NAMES:
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
