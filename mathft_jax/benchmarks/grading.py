r"""Benchmark: grade and cluster 500 problems x 64 samples, against a naive all-pairs baseline.

    python -m mathft_jax.benchmarks.grading [--problems 500] [--samples 64] [--repeats 3] \
        [--naive_problems 25] [--seed 0]

The job per problem is what `evaluate` does: extract each sample's answer from its text, cluster
(`cluster_answers`: canonical hashing, then `is_equiv` against representatives only) and mark each
cluster correct with one `is_equiv`. The naive baseline extracts the same answers, calls
`is_equiv` on every pair of samples (union-find), and grades every sample with `is_equiv`. Both
must give the same clusters and per-sample correctness (asserted).

Data: MATH-500 problems (ids from $MATHFT_DATA_DIR/math500_ids.txt); where a real pool in
$MATHFT_POOLS_DIR holds the problem, its sample texts are used (cycled to 64); elsewhere answers
are drawn from the problem's own answer, near misses of it and other MATH answers, with
equivalence-preserving rewrites (\dfrac, a/b, decimals, spaces, \left( \right)) and 10% of
samples without an answer (see `synthetic_row`).

Timing: the two sides run interleaved (A B A B ...) and medians are printed, with the CPU time
other processes used meanwhile (from /proc/stat, minus this process and its children) as a
measure of how busy the shared machine was. Naive runs on a seeded subset of problems and is
scaled per problem to the whole job (said in the output).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import random
import statistics
from collections.abc import Callable, Sequence

from absl import app, flags

from mathft_jax.benchmarks.machine import timed
from mathft_jax.candidates import Candidates, iter_candidates, sample_answers
from mathft_jax.evaluation.clustering import naive_cluster_answers
from mathft_jax.evaluation.grade import Grader, grade_problem
from mathft_jax.grading import clear_caches


def _shared_dir() -> pathlib.Path:
    here = pathlib.Path(__file__).resolve().parents[2]
    return pathlib.Path(os.environ.get("MATHFT_SHARED_DIR", here.parent / "shared"))


def data_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("MATHFT_DATA_DIR", _shared_dir() / "data" / "math"))


def pools_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("MATHFT_POOLS_DIR", _shared_dir() / "data" / "pools"))


# ----------------------------------------------------------------------------- synthetic answers


def rewrite(answer: str, rng: random.Random) -> str:
    """An equivalent spelling of `answer` (or `answer` itself when no rewrite applies)."""
    import re

    options: list[Callable[[str], str]] = [
        lambda a: a.replace("\\frac", "\\dfrac"),
        lambda a: re.sub(r"\s*([=+,])\s*", r" \1 ", a).strip(),
        lambda a: a.replace("(", "\\left(").replace(")", "\\right)"),
        lambda a: re.sub(r"^\\frac\{(-?\d+)\}\{(\d+)\}$", r"\1/\2", a),
        lambda a: f"{a}.0" if re.fullmatch(r"-?\d+", a) else a,
        lambda a: _as_decimal(a),
    ]
    return rng.choice(options)(answer)


def _as_decimal(answer: str) -> str:
    import re
    from fractions import Fraction

    m = re.fullmatch(r"\\frac\{(-?\d+)\}\{(\d+)\}", answer)
    if not m or int(m[2]) == 0:
        return answer
    value = Fraction(int(m[1]), int(m[2]))
    den = value.denominator
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    return str(float(value)) if den == 1 else answer  # terminating decimals only


def perturb(answer: str, rng: random.Random) -> str:
    """A near miss: one digit of `answer` changed (or a sign added), as wrong samples often are."""
    digits = [i for i, ch in enumerate(answer) if ch.isdigit()]
    if not digits:
        return f"-{answer}"
    i = rng.choice(digits)
    return answer[:i] + str((int(answer[i]) + rng.randint(1, 9)) % 10) + answer[i + 1 :]


def synthetic_row(
    unique_id: str, truth: str, others: Sequence[str], samples: int, rng: random.Random
) -> Candidates:
    """A row whose answers mix the truth and 2-20 wrong ones (near misses of the truth and other
    problems' answers, Zipf-weighted), 40% rewritten; 10% of samples have no answer.

    Calibrated loosely on the real pools (5.5 distinct answers at N=16, 29-157 at N=256).
    """
    num_wrong = rng.randint(2, 20)
    wrong = [
        perturb(truth, rng) if rng.random() < 0.5 else rng.choice(others) for _ in range(num_wrong)
    ]
    choices = [truth, *wrong]
    weights = [rng.uniform(1.0, 6.0)] + [1.0 / (i + 1) for i in range(num_wrong)]
    texts = []
    for _ in range(samples):
        if rng.random() < 0.1:
            texts.append("I could not finish the computation.")
            continue
        answer = rng.choices(choices, weights)[0]
        if rng.random() < 0.4:
            answer = rewrite(answer, rng)
        texts.append(f"Working through the steps, the result is $\\boxed{{{answer}}}$.")
    return Candidates(unique_id=unique_id, problem="", answer=truth, samples=tuple(texts))


def build_job(
    grader: Grader, problems: int, samples: int, seed: int
) -> tuple[list[Candidates], int]:
    """The benchmark rows and how many came from real pools."""
    rng = random.Random(seed)
    pool_rows: dict[str, Candidates] = {}
    if pools_dir().is_dir():
        for path in sorted(pools_dir().glob("*.jsonl")):
            for row in iter_candidates(path):
                if row.samples:
                    pool_rows.setdefault(row.unique_id, row)
    ids_path = data_dir() / "math500_ids.txt"
    ids = ids_path.read_text().split() if ids_path.exists() else []
    truths: dict[str, str] = {}
    test_path = data_dir() / "test.jsonl"
    if test_path.exists():
        import json

        for line in test_path.open(encoding="utf-8"):
            obj = json.loads(line)
            answer = grader.extract(obj["solution"])
            if answer:
                truths[obj["unique_id"]] = answer
    if not truths:
        raise FileNotFoundError(f"{test_path}: MATH test set needed (set MATHFT_DATA_DIR)")
    ids = [i for i in ids if i in truths] or sorted(truths)
    ids = (ids * (problems // len(ids) + 1))[:problems]
    others = sorted(set(truths.values()))
    rows, real = [], 0
    for index, uid in enumerate(ids):
        if uid in pool_rows:
            real += 1
            source = pool_rows[uid]
            texts = [source.samples[i % len(source.samples)] for i in range(samples)]
            rows.append(
                dataclasses.replace(
                    source, samples=tuple(texts), sample_answers=None, verifier_scores=None
                )
            )
        else:
            rows.append(synthetic_row(f"{uid}#{index}", truths[uid], others, samples, rng))
    return rows, real


# ----------------------------------------------------------------------------- the two sides


def fast_job(
    rows: Sequence[Candidates], grader: Grader
) -> list[tuple[tuple[int, ...], tuple[bool, ...]]]:
    """Per row: (cluster assignment, per-sample correctness), as `evaluate` computes them."""
    out = []
    for row in rows:
        graded = grade_problem(row, grader, reextract=True)
        correct = tuple(a >= 0 and graded.cluster_correct[a] for a in graded.assignment)
        out.append((graded.assignment, correct))
    return out


def naive_job(
    rows: Sequence[Candidates], grader: Grader
) -> list[tuple[tuple[int, ...], tuple[bool, ...]]]:
    """Same outputs with all-pairs `is_equiv` clustering and one `is_equiv` per sample."""
    out = []
    for row in rows:
        answers = sample_answers(row, grader.extract, reextract=True)
        assignment = naive_cluster_answers(answers, grader.equiv)
        correct = tuple(a is not None and bool(grader.equiv(row.answer, a)) for a in answers)
        out.append((assignment, correct))
    return out


# ----------------------------------------------------------------------------- timing


def run(
    grader: Grader, problems: int, samples: int, repeats: int, naive_problems: int, seed: int
) -> dict[str, float]:
    """Times both sides interleaved; asserts equal outputs; prints and returns the figures."""
    rows, real = build_job(grader, problems, samples, seed)
    subset = sorted(random.Random(seed).sample(range(len(rows)), k=min(naive_problems, len(rows))))
    naive_rows = [rows[i] for i in subset]
    print(
        f"job: {len(rows)} problems x {samples} samples = {len(rows) * samples} samples "
        f"({real} problems from real pools, the rest synthetic); cores: {os.cpu_count()}"
    )
    fast_times, fast_busy, naive_times, naive_busy = [], [], [], []
    for round_ in range(repeats):
        clear_caches()  # each side starts cold: no memoised answer carries over from the other
        wall, busy, fast_out = timed(lambda: fast_job(rows, grader))
        fast_times.append(wall)
        fast_busy.append(busy)
        clear_caches()
        wall, busy, naive_out = timed(lambda: naive_job(naive_rows, grader))
        naive_times.append(wall)
        naive_busy.append(busy)
        fast_subset = [fast_out[i] for i in subset]  # type: ignore[index]
        assert fast_subset == naive_out, "fast and naive clusterings differ"
        print(
            f"round {round_}: fast {fast_times[-1]:.2f}s (others {_fmt(fast_busy[-1])}), "
            f"naive {len(naive_rows)} problems {naive_times[-1]:.2f}s (others {_fmt(naive_busy[-1])})"
        )
    fast = statistics.median(fast_times)
    naive_sub = statistics.median(naive_times)
    naive_full = naive_sub / len(naive_rows) * len(rows)
    print(
        f"fast (cluster_answers): median {fast:.2f}s for {len(rows)} problems "
        f"({1000 * fast / len(rows):.1f} ms/problem); other processes' CPU meanwhile: "
        f"median {_fmt(_median(fast_busy))}"
    )
    print(
        f"naive (all pairs): median {naive_sub:.2f}s for {len(naive_rows)} problems, scaled per "
        f"problem to {naive_full:.1f}s for {len(rows)}; other processes' CPU meanwhile: "
        f"median {_fmt(_median(naive_busy))}"
    )
    speedup = naive_full / fast
    print(f"speed-up: {speedup:.1f}x; same clusters and correctness: yes (asserted)")
    fast_calls, naive_calls = count_calls(naive_rows, grader)
    print(
        f"is_equiv calls per problem on the naive subset (untimed pass): fast {fast_calls:.1f}, "
        f"naive {naive_calls:.1f}"
    )
    print(
        f"goals: whole job < 60 s: {'met' if fast < 60 else 'MISSED'} ({fast:.1f}s); "
        f">= 10x naive: {'met' if speedup >= 10 else 'MISSED'} ({speedup:.1f}x)"
    )
    return {"fast_s": fast, "naive_scaled_s": naive_full, "speedup": speedup}


def count_calls(rows: Sequence[Candidates], grader: Grader) -> tuple[float, float]:
    """Mean `is_equiv` calls per problem for the fast and the naive side (machine-independent)."""
    calls = [0]

    def counted(a: str, b: str) -> bool:
        calls[0] += 1
        return grader.equiv(a, b)

    counting = dataclasses.replace(grader, equiv=counted)
    fast_job(rows, counting)
    fast_calls, calls[0] = calls[0], 0
    naive_job(rows, counting)
    return fast_calls / len(rows), calls[0] / len(rows)


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _fmt(busy: float | None) -> str:
    return "n/a" if busy is None else f"{busy:.2f} CPU-s"


def _define_flags() -> None:
    # Defined only when run as a program, so importing this module (tests) adds no global flags.
    flags.DEFINE_integer("problems", 500, "Problems in the job.")
    flags.DEFINE_integer("samples", 64, "Samples per problem.")
    flags.DEFINE_integer("repeats", 3, "Interleaved timing rounds (A B per round).")
    flags.DEFINE_integer(
        "naive_problems",
        25,
        "Problems timed on the naive side (seeded subset; scaled per problem).",
    )
    flags.DEFINE_integer("seed", 0, "Seed of the synthetic answers and of the naive subset.")


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    f = flags.FLAGS
    run(Grader.default(), f.problems, f.samples, f.repeats, f.naive_problems, f.seed)


if __name__ == "__main__":
    _define_flags()
    app.run(main)
