"""The grading benchmark's parts: equivalent rewrites, job building, timing, both sides agree."""

import random
import re
import time
from fractions import Fraction

import pytest

from mathft_jax.benchmarks import grading as bench
from mathft_jax.benchmarks import machine
from mathft_jax.evaluation.grade import Grader


def _canon(answer: str) -> str:
    out = answer.replace("\\left", "").replace("\\right", "").replace("\\dfrac", "\\frac")
    return re.sub(r"\s+", "", out)


def _value(answer: str):
    text = _canon(answer)
    m = re.fullmatch(r"\\frac\{(-?\d+)\}\{(\d+)\}", text) or re.fullmatch(r"(-?\d+)/(\d+)", text)
    if m:
        return Fraction(int(m[1]), int(m[2])) if int(m[2]) else text
    try:
        return Fraction(text)
    except ValueError:
        return text


def _extract(text: str):
    found = re.findall(r"\\boxed\{(.*)\}", text)
    return found[-1] if found else None


FAKE = Grader(_extract, lambda a, b: _value(a) == _value(b), _canon)


@pytest.mark.parametrize("answer", ["\\frac{25}{2}", "(3, \\frac{\\pi}{2})", "14", "x+1=2"])
def test_rewrites_stay_equivalent(answer):
    rng = random.Random(0)
    spellings = {bench.rewrite(answer, rng) for _ in range(50)}
    assert all(FAKE.equiv(answer, s) for s in spellings)
    if answer == "\\frac{25}{2}":
        assert {"12.5", "25/2", "\\dfrac{25}{2}"} <= spellings


def test_timed_reports_wall_time_and_other_cpu():
    wall, busy, result = machine.timed(lambda: time.sleep(0.05) or 7)
    assert result == 7 and wall >= 0.05
    assert busy is None or busy >= 0.0


def test_run_on_a_small_job(math_data_dir, monkeypatch, capsys):
    monkeypatch.setenv("MATHFT_DATA_DIR", str(math_data_dir))
    rows, real = bench.build_job(FAKE, problems=12, samples=8, seed=0)
    assert len(rows) == 12 and all(len(r.samples) == 8 for r in rows)
    assert rows == bench.build_job(FAKE, problems=12, samples=8, seed=0)[0]  # seeded
    figures = bench.run(FAKE, problems=12, samples=8, repeats=1, naive_problems=4, seed=0)
    out = capsys.readouterr().out
    assert "speed-up" in out and "scaled per problem" in out
    assert figures["speedup"] == pytest.approx(figures["naive_scaled_s"] / figures["fast_s"])
    assert "is_equiv calls per problem" in out and "goals:" in out


def test_fast_side_calls_is_equiv_less_than_all_pairs(math_data_dir, monkeypatch):
    monkeypatch.setenv("MATHFT_DATA_DIR", str(math_data_dir))
    rows, _ = bench.build_job(FAKE, problems=6, samples=16, seed=1)
    fast, naive = bench.count_calls(rows, FAKE)
    answered = [sum(FAKE.extract(t) is not None for t in r.samples) for r in rows]
    # Naive: every pair of answered samples plus one grading call per answered sample.
    assert naive == pytest.approx(sum(a * (a - 1) / 2 + a for a in answered) / len(rows))
    assert 0 < fast < naive / 3
