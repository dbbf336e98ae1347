"""The built-in `chain` task: a running sum written out one small step at a time.

    Problem: Compute 37+8-5+9-6.
    Solution: 37+8=45. 45-5=40. 40+9=49. 49-6=43. \\boxed{43}

A start value in [10, 99] then 3-6 steps of `+d` / `-d` (d in 2-9; the running value stays in
[10, 99]). Every step is one operation on a two-digit and a one-digit number, written out with its
result, so a model's error is a slip in one step, local and checkable from that line alone, and a
slip moves every later running value. The hope was that wrong final answers would scatter while right
ones agree, so majority voting beats one sample. Measured (gin/recipe_smoke.gin, tiny model, 300
validation problems x 16 samples): they scatter only partly. The slips are units digits off by one at
carry/borrow steps (-1: 1759, +1: 1197, -2: 225 of 3472 first slips on 1024 training problems),
concentrated on a problem's one or two hard steps, so a problem's wrong samples mostly agree on one
wrong value (2.3 distinct answers per problem): Maj1@16 0.699 vs mean sample accuracy 0.633 after 700
SSFT steps, 0.973 vs 0.959 at greedy 0.98 and 0.482 vs 0.450 at greedy 0.53 (steps 800, 600 of a
1000-step run); Maj4@16 0.95 at 700 steps.
The `mod10` variant (`chain_problems.variant = "mod10"`, gin/data/mod10.gin) sums single digits mod
10, one table entry a step, and `with_slips` writes its training solutions as a fallible teacher
would, so a generator's slips are random rather than systematic (measurements in gin/data/mod10.gin).
Problem plus solution stay under ~100 bytes (byte vocabulary: the smoke model trains in minutes).

Splits are disjoint by problem text (`synthetic.split_of`: a hash of the text), example `i` of a
split depends only on (seed, split, i). No TensorFlow or JAX import.
"""

import random

from mathft_jax.data import synthetic

SPLITS = synthetic.SPLITS
DEFAULT_SIZES = {"train": 20000, "validation": 500, "test": 500}
MIN_STEPS, MAX_STEPS = 3, 6
LOW, HIGH = 10, 99
VARIANTS = ("carry", "mod10", "mod10check", "mod10verdict")
MOD10_MIN_STEPS, MOD10_MAX_STEPS = 4, 10
CHECK_MIN_STEPS, CHECK_MAX_STEPS = 3, 5  # each way: the checked solution is twice as long
CHECK_MARK = "Check:"
# mod10verdict: the check's outcome in words (the check ends at 0 or it does not).
VERDICT_RIGHT, VERDICT_WRONG = "Right.", "Wrong."


def make_example(rng: random.Random) -> synthetic.SynthExample:
    """One chain problem (`unique_id` left empty; `generate` numbers them)."""
    value = rng.randint(LOW, HIGH)
    start = value
    ops, steps = [], []
    for _ in range(rng.randint(MIN_STEPS, MAX_STEPS)):
        d = rng.randint(2, 9)
        sign = rng.choice("+-")
        if sign == "+" and value + d > HIGH:
            sign = "-"
        elif sign == "-" and value - d < LOW:
            sign = "+"
        new = value + d if sign == "+" else value - d
        ops.append(f"{sign}{d}")
        steps.append(f"{value}{sign}{d}={new}.")
        value = new
    problem = f"Compute {start}{''.join(ops)}."
    answer = str(value)
    solution = " ".join(steps) + f" \\boxed{{{answer}}}"
    return synthetic.SynthExample("", problem, solution, answer, level=len(steps))


MOD10_PREFIX = "Add mod 10: "


def mod10_problem(digits: list[int]) -> str:
    """The `mod10` problem text of a digit sequence."""
    return f"{MOD10_PREFIX}{' '.join(map(str, digits))}."


def _mod10_pass(
    digits: list[int],
    sign: int = 1,
    slip_rate: float = 0.0,
    carry_slip_rate: float = 0.0,
    rng: random.Random | None = None,
) -> tuple[list[str], int]:
    """Steps `v+d=w.` (sign 1) or `v-d=w.` (sign -1) through `digits[1:]` from `digits[0]`, mod
    10, and the last written value. With `rng` a fallible teacher writes them: a sum past 9
    gets its carry added into the units (`7+5=3`) with `carry_slip_rate`, any other result is
    off by one with `slip_rate`, and later steps go on from the written value."""
    value, steps = digits[0], []
    for d in digits[1:]:
        new = (value + sign * d) % 10
        if rng is not None:
            if sign > 0 and value + d >= 10 and rng.random() < carry_slip_rate:
                new = (new + 1) % 10
            elif rng.random() < slip_rate:
                new = (new + rng.choice((-1, 1))) % 10
        steps.append(f"{value}{'+' if sign > 0 else '-'}{d}={new}.")
        value = new
    return steps, value


def _mod10_solution(
    digits: list[int],
    slip_rate: float = 0.0,
    carry_slip_rate: float = 0.0,
    rng: random.Random | None = None,
    checked: bool = False,
    check_slip_rate: float | None = None,
    verdict: bool = False,
) -> str:
    """The worked sum of `digits` and its boxed answer; `checked` then adds the check: every digit
    taken back off the answer, last first, which must end at 0; `verdict` then says whether it
    did (`Right.` / `Wrong.`)."""
    steps, value = _mod10_pass(digits, 1, slip_rate, carry_slip_rate, rng)
    solution = " ".join(steps) + f" \\boxed{{{value}}}"
    if not checked:
        return solution
    check_rate = slip_rate if check_slip_rate is None else check_slip_rate
    back, last = _mod10_pass([value, *digits[::-1]], -1, check_rate, 0.0, rng)
    words = [VERDICT_RIGHT if last == 0 else VERDICT_WRONG] if verdict else []
    return " ".join([solution, CHECK_MARK, *back, *words])


def _mod10_digits(rng: random.Random, min_steps: int, max_steps: int) -> list[int]:
    return [rng.randint(1, 9) for _ in range(rng.randint(min_steps, max_steps) + 1)]


def make_mod10_example(rng: random.Random) -> synthetic.SynthExample:
    """One `mod10` problem: digits summed mod 10, one single-digit step a line.

        Problem: Add mod 10: 7 5 9 3 8.
        Solution: 7+5=2. 2+9=1. 1+3=4. 4+8=2. \\boxed{2}

    Every step is one entry of a 10 x 9 table and sits at fixed offsets from its operands, so a
    checker needs only the line itself; a slip shifts the final answer by a random nonzero amount.
    """
    digits = _mod10_digits(rng, MOD10_MIN_STEPS, MOD10_MAX_STEPS)
    return synthetic.SynthExample(
        "", mod10_problem(digits), _mod10_solution(digits), str(sum(digits) % 10), len(digits) - 1
    )


def make_mod10check_example(rng: random.Random) -> synthetic.SynthExample:
    """One `mod10check` problem: the `mod10` sum, then checked by taking the digits back off.

        Problem: Add mod 10: 7 5 9 3.
        Solution: 7+5=2. 2+9=1. 1+3=4. \\boxed{4} Check: 4-3=1. 1-9=2. 2-5=7. 7-7=0.

    A wrong sum makes every check value wrong by the same amount, so the check ends away from 0:
    a solution checking itself, as people do, whose verdict (the last digit) a verifier can
    learn to read.
    """
    digits = _mod10_digits(rng, CHECK_MIN_STEPS, CHECK_MAX_STEPS)
    solution = _mod10_solution(digits, checked=True)
    return synthetic.SynthExample(
        "", mod10_problem(digits), solution, str(sum(digits) % 10), len(digits) - 1
    )


def make_mod10verdict_example(rng: random.Random) -> synthetic.SynthExample:
    """One `mod10verdict` problem: the `mod10check` solution, then the check's verdict in words.

        Problem: Add mod 10: 7 5 9 3.
        Solution: 7+5=2. 2+9=1. 1+3=4. \\boxed{4} Check: 4-3=1. 1-9=2. 2-5=7. 7-7=0. Right.

    A slipped sum's check ends away from 0 and says `Wrong.`. The check's last digit is a verdict
    a 2-layer verifier read poorly (within-problem AUC of its scores against "ends at 0": .78 on
    the smoke's validation pool); a word that appears nowhere else in the verifier prompt (`W`)
    is one it can find wherever the solution ends.
    """
    digits = _mod10_digits(rng, CHECK_MIN_STEPS, CHECK_MAX_STEPS)
    solution = _mod10_solution(digits, checked=True, verdict=True)
    return synthetic.SynthExample(
        "", mod10_problem(digits), solution, str(sum(digits) % 10), len(digits) - 1
    )


def with_slips(
    example: synthetic.SynthExample,
    rate: float,
    seed: int,
    carry_rate: float = 0.0,
    check_rate: float | None = None,
) -> str:
    """A `mod10` / `mod10check` solution as a fallible teacher writes it: a sum past 9 gets its
    carry added into the units with probability `carry_rate` (a systematic error, the same on
    every sample), any other result is off by one with probability `rate` (the check's with
    `check_rate`, default `rate`), and later steps go on from the written value.

    Trained on these, a generator slips at random steps (its wrong answers scatter, so voting
    helps) and also makes the teacher's habitual error (which voting cannot undo). The boxed
    answer is the last written value, so a slipped solution's answer is wrong (the example's
    `answer` stays true).
    """
    if not example.problem.startswith(MOD10_PREFIX):
        raise ValueError(f"with_slips needs a mod10 problem, got {example.problem!r}")
    if rate <= 0 and carry_rate <= 0 and not check_rate:
        return example.solution
    digits = [int(t) for t in example.problem[len(MOD10_PREFIX) : -1].split()]
    rng = random.Random(f"slips-{seed}-{example.problem}")
    checked = CHECK_MARK in example.solution
    verdict = example.solution.endswith((VERDICT_RIGHT, VERDICT_WRONG))
    return _mod10_solution(digits, rate, carry_rate, rng, checked, check_rate, verdict)


def arithmetic_facts(rng: random.Random, count: int, signs: str = "+-") -> str:
    """`count` mod-10 table facts in the solutions' step format, each starting from the last
    one's result (`7+5=2. 2-8=4. 4+3=7. ...`: a running sum of random digits and signs): the
    corpus a small base model is pretrained on, so that fine-tuning starts from a model that
    knows its tables and carries a value from step to step, as the paper's base model knows
    arithmetic. Problems are not in it."""
    value, facts = rng.randint(0, 9), []
    for _ in range(count):
        d, sign = rng.randint(1, 9), rng.choice(signs)
        new = (value + d if sign == "+" else value - d) % 10
        facts.append(f"{value}{sign}{d}={new}.")
        value = new
    return " ".join(facts)


_MAKERS = {
    "carry": make_example,
    "mod10": make_mod10_example,
    "mod10check": make_mod10check_example,
    "mod10verdict": make_mod10verdict_example,
}


def generate(
    split: str, num_examples: int | None = None, seed: int = 0, variant: str = "carry"
) -> list:
    """The first `num_examples` distinct problems of `split` for `seed` (default DEFAULT_SIZES)."""
    if split not in SPLITS:
        raise ValueError(f"chain split must be one of {SPLITS}, got {split!r}")
    if variant not in VARIANTS:
        raise ValueError(f"chain variant must be one of {VARIANTS}, got {variant!r}")
    make = _MAKERS[variant]
    name = "chain" if variant == "carry" else variant  # "carry" keeps its original draws
    wanted = DEFAULT_SIZES[split] if num_examples is None else num_examples
    out: list[synthetic.SynthExample] = []
    seen: set[str] = set()
    index = 0
    while len(out) < wanted:
        if index > 50 * wanted + 1000:
            raise ValueError(f"chain: found only {len(out)} distinct {split} problems")
        rng = random.Random(f"{name}-{seed}-{index}")
        index += 1
        ex = make(rng)
        if ex.problem in seen or synthetic.split_of(ex.problem) != split:
            continue
        seen.add(ex.problem)
        out.append(
            synthetic.SynthExample(
                f"chain/{split}/{len(out)}", ex.problem, ex.solution, ex.answer, ex.level
            )
        )
    return out
