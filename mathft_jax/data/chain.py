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


def generate(split: str, num_examples: int | None = None, seed: int = 0) -> list:
    """The first `num_examples` distinct problems of `split` for `seed` (default DEFAULT_SIZES)."""
    if split not in SPLITS:
        raise ValueError(f"chain split must be one of {SPLITS}, got {split!r}")
    wanted = DEFAULT_SIZES[split] if num_examples is None else num_examples
    out: list[synthetic.SynthExample] = []
    seen: set[str] = set()
    index = 0
    while len(out) < wanted:
        if index > 50 * wanted + 1000:
            raise ValueError(f"chain: found only {len(out)} distinct {split} problems")
        rng = random.Random(f"chain-{seed}-{index}")
        index += 1
        ex = make_example(rng)
        if ex.problem in seen or synthetic.split_of(ex.problem) != split:
            continue
        seen.add(ex.problem)
        out.append(
            synthetic.SynthExample(
                f"chain/{split}/{len(out)}", ex.problem, ex.solution, ex.answer, ex.level
            )
        )
    return out
