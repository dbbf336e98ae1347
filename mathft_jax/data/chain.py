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
VARIANTS = ("carry", "mod10")
MOD10_MIN_STEPS, MOD10_MAX_STEPS = 4, 10


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


def _mod10_solution(
    digits: list[int], slip_rate: float = 0.0, rng: random.Random | None = None
) -> str:
    """The worked sum of `digits`; with `rng`, each result is off by one with `slip_rate`."""
    value, steps = digits[0], []
    for d in digits[1:]:
        new = (value + d) % 10
        if rng is not None and rng.random() < slip_rate:
            new = (new + rng.choice((-1, 1))) % 10
        steps.append(f"{value}+{d}={new}.")
        value = new
    return " ".join(steps) + f" \\boxed{{{value}}}"


def make_mod10_example(rng: random.Random) -> synthetic.SynthExample:
    """One `mod10` problem: digits summed mod 10, one single-digit step a line.

        Problem: Add mod 10: 7 5 9 3 8.
        Solution: 7+5=2. 2+9=1. 1+3=4. 4+8=2. \\boxed{2}

    Every step is one entry of a 10 x 9 table and sits at fixed offsets from its operands, so a
    checker needs only the line itself; a slip shifts the final answer by a random nonzero amount.
    """
    digits = [rng.randint(1, 9) for _ in range(rng.randint(MOD10_MIN_STEPS, MOD10_MAX_STEPS) + 1)]
    answer = str(sum(digits) % 10)
    solution = _mod10_solution(digits)
    return synthetic.SynthExample(
        "", mod10_problem(digits), solution, answer, level=len(digits) - 1
    )


def with_slips(example: synthetic.SynthExample, rate: float, seed: int) -> str:
    """A `mod10` solution as a fallible teacher writes it: each step's result is off by one
    (up or down, mod 10) with probability `rate`, and later steps go on from the written value.

    Trained on these, a generator learns to slip at random steps by random amounts, as a sampled
    LLM does, instead of learning the table perfectly or not at all. The boxed answer is the last
    written value, so a slipped solution's answer is wrong (the example's `answer` stays true).
    """
    if not example.problem.startswith(MOD10_PREFIX):
        raise ValueError(f"with_slips needs a mod10 problem, got {example.problem!r}")
    if rate <= 0:
        return example.solution
    digits = [int(t) for t in example.problem[len(MOD10_PREFIX) : -1].split()]
    return _mod10_solution(digits, rate, random.Random(f"slips-{seed}-{example.problem}"))


_MAKERS = {"carry": make_example, "mod10": make_mod10_example}


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
