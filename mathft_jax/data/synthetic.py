"""The built-in `synth` task: seeded multi-step arithmetic and algebra with step-by-step solutions.

Lets the whole recipe run on a laptop CPU. Five levels (1: one operation on integers in [-9, 9],
2: two operations with precedence, 3: fraction sums with denominators 2-5, 4: `ax+b=c` with an
integer root, 5: `ax+b=cx+d`, often a fractional root), answers in the grader's forms (`-7`,
`\\frac{5}{6}`, `-\\frac{3}{2}`). Problem plus solution stay under ~160 bytes so a byte-level model
trains fast. Number ranges are narrow so a tiny model learns in minutes; distinct problems run out
for the easy levels, so the 20,000 training problems lean to levels 2 and 5 (about 4%/33%/8%/9%/45%
for levels 1-5) while eval splits are near uniform. Measured in `make smoke` (gin/recipe_smoke.gin:
2 layers, width 128, byte vocabulary, AdamW 3e-3, batch 32, 1000 steps, 2-core CPU, load ~1.6):
validation loss 0.10 nats/byte, greedy accuracy 27% on 100 test problems (26.6% on 256 training
problems), Pass@16 61%, Maj1@16 25%. (Before the ranges were narrowed: 6% after 620 steps.)

Wrong solutions for the verifier tasks come from `corrupt_solution`, a seeded mix of the errors
sampled solutions make (copy errors, propagated and final slips, boxed contradictions, unfinished
samples); see its docstring for the mix and why unfinished samples weigh 40%.

Splits are disjoint by problem text: an example's split is a hash of its text, so the same problem
never lands in two splits, whatever the sizes asked for. Example `i` of a split depends only on
(seed, split, i). No TensorFlow or JAX import.
"""

import dataclasses
import hashlib
import math
import random
from fractions import Fraction

SPLITS = ("train", "validation", "test")
DEFAULT_SIZES = {"train": 20000, "validation": 500, "test": 500}
LEVELS = (1, 2, 3, 4, 5)


@dataclasses.dataclass(frozen=True)
class SynthExample:
    """One generated problem; `solution` ends in `\\boxed{answer}`."""

    unique_id: str
    problem: str
    solution: str
    answer: str
    level: int
    # The level's drawn numbers and choices (`_DRAWn`); corrupt_solution re-renders from them.
    params: tuple = dataclasses.field(default=(), repr=False)


def _num(value: int | Fraction, first: bool = False) -> str:
    """A number as written inside an expression: `3`, `(-3)`, `5/6`, `(-5/6)`."""
    text = str(value)
    return text if first or not text.startswith("-") else f"({text})"


def answer_text(value: int | Fraction) -> str:
    """The boxed answer form: integers as is, fractions as `\\frac{a}{b}` with the sign in front."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    sign = "-" if value < 0 else ""
    return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"


def _nonzero(rng: random.Random, lo: int, hi: int) -> int:
    while True:
        value = rng.randint(lo, hi)
        if value != 0:
            return value


# Each level is a pair: `_drawN(rng) -> params` (the numbers and choices the problem states) and
# `_renderN(params, slip) -> (problem, steps, value)`. `slip` is added to the first step's result
# and the later steps follow from the slipped value (corrupt_solution's propagated slip; 0 = right).


def _draw1(rng: random.Random) -> tuple:
    a, b = rng.randint(-9, 9), rng.randint(-9, 9)
    return a, b, rng.choice("+-*")


def _render1(params: tuple, slip: int = 0) -> tuple[str, list[str], Fraction]:
    a, b, op = params  # one step: a slip there is a final-step slip
    value = {"+": a + b, "-": a - b, "*": a * b}[op]
    expr = f"{_num(a, True)}{op}{_num(b)}"
    return f"Compute {expr}.", [f"{expr}={value}."], Fraction(value)


def _draw2(rng: random.Random) -> tuple:
    a, b, c = rng.randint(-6, 6), rng.randint(-6, 6), rng.randint(-9, 9)
    op = rng.choice("+-")
    return a, b, c, op, rng.random() < 0.5


def _render2(params: tuple, slip: int = 0) -> tuple[str, list[str], Fraction]:
    a, b, c, op, product_first = params
    product = a * b + slip
    first = f"{_num(a, True)}*{_num(b)}={product}."
    if product_first:  # a*b+c
        value = product + c if op == "+" else product - c
        expr = f"{_num(a, True)}*{_num(b)}{op}{_num(c)}"
        last = f"{_num(product, True)}{op}{_num(c)}={value}."
    else:  # c+a*b (precedence matters)
        value = c + product if op == "+" else c - product
        expr = f"{_num(c, True)}{op}{_num(a)}*{_num(b)}"
        last = f"{_num(c, True)}{op}{_num(product)}={value}."
    return f"Compute {expr}.", [first, last], Fraction(value)


def _draw3(rng: random.Random) -> tuple:
    x = Fraction(_nonzero(rng, -5, 5), rng.randint(2, 5))
    y = Fraction(_nonzero(rng, -5, 5), rng.randint(2, 5))
    return x, y, rng.choice("+-")


def _render3(params: tuple, slip: int = 0) -> tuple[str, list[str], Fraction]:
    x, y, op = params
    d = math.lcm(x.denominator, y.denominator)
    xn, yn = x.numerator * d // x.denominator, y.numerator * d // y.denominator
    raw = (xn + yn if op == "+" else xn - yn) + slip
    value = Fraction(raw, d)
    expr = f"{_num(x, True)}{op}{_num(y)}"
    step = f"{expr}={xn}/{d}{op}{_num(yn) if yn > 0 else f'({yn}/{d})'}"
    step = step if yn < 0 else f"{step}/{d}"
    step += f"={raw}/{d}"
    if str(value) != f"{raw}/{d}":  # reduce
        step += f"={value}"
    return f"Compute {expr}.", [step + "."], value


def _draw4(rng: random.Random) -> tuple:
    a, root, b = _nonzero(rng, -5, 5), rng.randint(-6, 6), _nonzero(rng, -9, 9)
    return a, b, a * root + b


def _render4(params: tuple, slip: int = 0) -> tuple[str, list[str], Fraction]:
    a, b, c = params  # ax+b=c
    lhs = f"{'' if a == 1 else '-' if a == -1 else a}x{'+' if b > 0 else '-'}{abs(b)}"
    rhs = c - b + slip
    value = Fraction(rhs, a)
    last = f"x={rhs}/{_num(a)}"
    last += "." if str(value) == f"{rhs}/{_num(a)}" else f"={value}."
    steps = [f"{a}x={c}{'-' if b > 0 else '+'}{abs(b)}={rhs}.", last]
    return f"Solve {lhs}={c} for x.", steps, value


def _draw5(rng: random.Random) -> tuple:
    a, c = _nonzero(rng, -5, 5), _nonzero(rng, -5, 5)
    while c == a:
        c = _nonzero(rng, -5, 5)
    b, d = rng.randint(-9, 9), rng.randint(-9, 9)
    return a, b, c, d


def _render5(params: tuple, slip: int = 0) -> tuple[str, list[str], Fraction]:
    a, b, c, d = params  # ax+b=cx+d

    def side(k: int, m: int) -> str:
        coef = "" if k == 1 else "-" if k == -1 else str(k)
        return f"{coef}x" + ("" if m == 0 else f"{'+' if m > 0 else '-'}{abs(m)}")

    rhs = d - b + slip
    value = Fraction(rhs, a - c)
    last = f"x={rhs}/{_num(a - c)}"
    last += "." if str(value) == f"{rhs}/{a - c}" else f"={value}."
    steps = [f"{a - c}x={rhs}.", last]
    return f"Solve {side(a, b)}={side(c, d)} for x.", steps, value


_DRAW = {1: _draw1, 2: _draw2, 3: _draw3, 4: _draw4, 5: _draw5}
_RENDER = {1: _render1, 2: _render2, 3: _render3, 4: _render4, 5: _render5}
# Which params are numbers read from the problem (copy errors), and the levels whose first step
# feeds a later one (propagated slips).
_GIVEN_NUMBERS = {1: (0, 1), 2: (0, 1, 2), 3: (0, 1), 4: (0, 1, 2), 5: (0, 1, 2, 3)}
_MULTI_STEP = (2, 3, 4, 5)


def _valid(level: int, params: tuple) -> bool:
    """The constraints the generator keeps (non-zero coefficients, a solvable level-5 equation)."""
    if level == 3:
        return all(p != 0 for p in params[:2])
    if level == 4:
        return params[0] != 0 and params[1] != 0
    if level == 5:
        return params[0] != 0 and params[2] != 0 and params[0] != params[2]
    return True


def _solution(steps: list[str], answer: str) -> str:
    return " ".join(steps) + f" \\boxed{{{answer}}}"


def make_example(rng: random.Random, level: int) -> tuple[str, str, str]:
    """(problem, solution, answer) of one level; the solution ends in the boxed answer."""
    problem, solution, answer, _ = _make(rng, level)
    return problem, solution, answer


def _make(rng: random.Random, level: int) -> tuple[str, str, str, tuple]:
    params = _DRAW[level](rng)
    problem, steps, value = _RENDER[level](params)
    answer = answer_text(value)
    return problem, _solution(steps, answer), answer, params


def split_of(problem: str) -> str:
    """The split a problem text belongs to: 80% train, 10% validation, 10% test (by hash)."""
    bucket = int.from_bytes(hashlib.sha256(problem.encode()).digest()[:4], "big") % 10
    return "test" if bucket == 0 else "validation" if bucket == 1 else "train"


def generate(split: str, num_examples: int | None = None, seed: int = 0) -> list[SynthExample]:
    """The first `num_examples` distinct problems of `split` for `seed` (default DEFAULT_SIZES)."""
    if split not in SPLITS:
        raise ValueError(f"synth split must be one of {SPLITS}, got {split!r}")
    wanted = DEFAULT_SIZES[split] if num_examples is None else num_examples
    out: list[SynthExample] = []
    seen: set[str] = set()
    index = 0
    limit = 50 * wanted + 1000  # guards against a problem space too small for the size asked
    while len(out) < wanted:
        if index > limit:
            raise ValueError(
                f"synth: found only {len(out)} distinct {split} problems, {wanted} asked"
            )
        rng = random.Random(f"synth-{seed}-{index}")
        index += 1
        level = LEVELS[rng.randrange(len(LEVELS))]
        problem, solution, answer, params = _make(rng, level)
        if problem in seen or split_of(problem) != split:
            continue
        seen.add(problem)
        uid = f"synth/{split}/{len(out)}"
        out.append(SynthExample(uid, problem, solution, answer, level, params))
    return out


# --------------------------------------------------------------------------- wrong solutions

ERROR_KINDS = ("copy", "propagated", "final", "boxed", "unfinished")
ERROR_WEIGHTS = (0.15, 0.15, 0.15, 0.15, 0.4)


def _wrong(rng: random.Random, value: int | Fraction) -> Fraction:
    """A nearby wrong value: the sign dropped (30%) or off by 1-3."""
    while True:
        wrong = -value if rng.random() < 0.3 and value != 0 else value + _nonzero(rng, -3, 3)
        if wrong != value:
            return Fraction(wrong)


def _misread(rng: random.Random, value: int | Fraction) -> int | Fraction:
    """A number copied wrong: its sign dropped (25%), or an integer / a fraction's numerator or
    denominator off by 1-2."""
    if value != 0 and rng.random() < 0.25:
        return -value
    if isinstance(value, Fraction):
        if rng.random() < 0.5:
            return Fraction(value.numerator + _nonzero(rng, -2, 2), value.denominator)
        return Fraction(value.numerator, max(1, value.denominator + _nonzero(rng, -2, 2)))
    return value + _nonzero(rng, -2, 2)


def _first_result(level: int, params: tuple) -> int:
    """The result of the first step, the one a propagated slip changes."""
    if level == 2:
        return params[0] * params[1]
    if level == 3:
        x, y, op = params
        d = math.lcm(x.denominator, y.denominator)
        xn, yn = x.numerator * d // x.denominator, y.numerator * d // y.denominator
        return xn + yn if op == "+" else xn - yn
    return params[3] - params[1] if level == 5 else params[2] - params[1]


def _copy_error(example: SynthExample, rng: random.Random) -> str | None:
    render, value = _RENDER[example.level], _RENDER[example.level](example.params)[2]
    for _ in range(20):
        params = list(example.params)
        index = rng.choice(_GIVEN_NUMBERS[example.level])
        params[index] = _misread(rng, params[index])
        if not _valid(example.level, tuple(params)):
            continue
        _, steps, wrong = render(tuple(params))
        if wrong != value:
            return _solution(steps, answer_text(wrong))
    return None


def _propagated_slip(example: SynthExample, rng: random.Random) -> str | None:
    if example.level not in _MULTI_STEP:
        return None
    first = _first_result(example.level, example.params)
    slip = -2 * first if first != 0 and rng.random() < 0.3 else _nonzero(rng, -3, 3)
    _, steps, wrong = _RENDER[example.level](example.params, slip)
    return _solution(steps, answer_text(wrong))  # the first step feeds the answer: it moves


def _final_slip(example: SynthExample, rng: random.Random) -> str:
    body = example.solution.rsplit(" \\boxed{", 1)[0]
    head, _, last = body.rpartition("=")
    wrong = _wrong(rng, Fraction(last.rstrip(".").strip("()")))
    return f"{head}={wrong}. \\boxed{{{answer_text(wrong)}}}"


def _boxed_contradiction(example: SynthExample, rng: random.Random) -> str:
    body = example.solution.rsplit(" \\boxed{", 1)[0]
    value = Fraction(body.rpartition("=")[2].rstrip(".").strip("()"))
    return f"{body} \\boxed{{{answer_text(_wrong(rng, value))}}}"


def _unfinished(example: SynthExample, rng: random.Random) -> str:
    body = example.solution.rsplit(" \\boxed{", 1)[0]
    first_end = body.find(". ") + 1 if ". " in body else len(body) // 2
    return body[: rng.randint(max(1, first_end), len(body))].rstrip()


def error_kind(example: SynthExample, seed: int = 0) -> str:
    """The kind of error `corrupt_solution` makes for this example (drawn by ERROR_WEIGHTS)."""
    rng = random.Random(f"corrupt-kind-{seed}-{example.unique_id}")
    return rng.choices(ERROR_KINDS, ERROR_WEIGHTS)[0]


def corrupt_solution(example: SynthExample, seed: int = 0, kind: str | None = None) -> str:
    """A plausible wrong solution of `example`, deterministic in (seed, unique_id).

    The mix (ERROR_WEIGHTS: 15% each of the first four, 40% unfinished) imitates the errors sampled
    solutions make; each kind is checked by a different skill, from copying to redoing arithmetic:
      "copy"       a number misread from the problem in the first step, the rest worked out right
                   from it (`Compute 2*3-1.` -> `2*4=8. 8-1=7. \\boxed{7}`; seen by comparing with
                   the problem);
      "propagated" a slip in the first step's result carried through the later steps
                   (`2*3=5. 5-1=4. \\boxed{4}`; level 1 has one step: a final slip instead);
      "final"      a slip in the last step's result, boxed with it (`2*3=6. 6-1=4. \\boxed{4}`);
      "boxed"      right steps, a boxed answer that contradicts the last line
                   (`2*3=6. 6-1=5. \\boxed{4}`; seen by comparing two spans of the solution);
      "unfinished" cut off before its boxed answer, as a sample that runs out of decode budget
                   (`2*3=6. 6-`; no answer, graded wrong; seen from the missing `\\boxed`).
    Why 40% unfinished: the tiny CPU model (2 layers, byte vocabulary) does not learn the span
    comparisons the first four need from one label token a row within CPU minutes (validation
    accuracy 0.53 after 300 verifier steps with boxed contradictions only), but learns the
    unfinished ones within 10 steps, so the verifier run on this task measurably leaves chance
    (0.71, tests/training/test_train_synthetic.py). Bigger models get the harder kinds too.
    Every negative's answer differs from the truth or is missing: never graded correct. A kind that does
    not apply (no params on a hand-built example, no copy error that moves the answer in 20 tries)
    falls back to "final".

    Args:
      kind: one of ERROR_KINDS to force; None draws it (`error_kind`).
    """
    kind = kind or error_kind(example, seed)
    if kind not in ERROR_KINDS:
        raise ValueError(f"corrupt_solution: kind must be one of {ERROR_KINDS}, got {kind!r}")
    rng = random.Random(f"corrupt-{seed}-{example.unique_id}")
    text = None
    if kind == "copy" and example.params:
        text = _copy_error(example, rng)
    elif kind == "propagated" and example.params:
        text = _propagated_slip(example, rng)
    elif kind == "boxed":
        text = _boxed_contradiction(example, rng)
    elif kind == "unfinished":
        text = _unfinished(example, rng)
    return text if text is not None else _final_slip(example, rng)
