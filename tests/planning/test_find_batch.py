"""`report.find_batch`: the largest fitting batch with few compiles that fit (no compile here: a
fake `plan_stage` whose memory grows with the batch)."""

import json

import pytest

from mathft_jax.planning import chips, report, table

GiB = chips.GiB
HBM = 16 * GiB
FIXED = 3 * GiB  # parameters + optimizer state + code


def fake_plan(monkeypatch, total):
    """plan_stage replaced by `total(batch)` bytes a chip; fits iff within HBM. Returns the
    batches compiled, in order."""
    calls = []

    def plan_stage(topology, stage, batch_size=None, **kw):
        calls.append(batch_size)
        need = total(batch_size)
        return {"fits": need <= HBM, "total_bytes": need, "hbm_bytes": HBM}

    monkeypatch.setattr(report, "plan_stage", plan_stage)
    return calls


def start_of(total, batch=64):
    need = total(batch)
    return {"fits": need <= HBM, "total_bytes": need, "hbm_bytes": HBM, "batch": batch,
            "param_bytes": FIXED - GiB, "opt_state_bytes": GiB, "code_bytes": 0}  # fmt: skip


def linear(per_row, hidden=0.0):
    """Fixed bytes, bytes the start's figures cannot tell from the batch's (`hidden`), and
    `per_row` bytes a row."""
    return lambda b: FIXED + hidden + per_row * b


def measured(points):
    """Piecewise linear through (batch, bytes) figures the planner reported for a real row."""
    pts = sorted(points)

    def total(b):
        (b1, y1), (b2, y2) = next(((p, q) for p, q in zip(pts, pts[1:]) if b <= q[0]), pts[-2:])
        return y1 + (y2 - y1) * (b - b1) / (b2 - b1)

    return total


# qwen2_5_1_5b v5e:2x2 verifier, ACCUM_STEPS=4 (3 December 2026): 112 fits, 128 does not
QWEN_VERIFIER = measured([(64, 14115648512), (80, 15224675840), (112, 16927824384),
                          (128, 17718201344), (224, 21615921664)])  # fmt: skip

CASES = [  # memory a chip as a function of the batch, and the step (batch shards)
    (QWEN_VERIFIER, 16),
    (linear(0.1 * GiB), 4),  # 130 rows fit: the linear estimate is exact
    (linear(0.1 * GiB, hidden=2 * GiB), 4),  # 110: the estimate from the start falls short
    (linear(0.01 * GiB, hidden=1 * GiB), 16),  # 1200: far above the start
    (linear(0.3 * GiB, hidden=1 * GiB), 4),  # 40: the start does not fit
    (lambda b: FIXED + 0.05 * GiB * b + 0.0004 * GiB * b * b, 8),  # convex: 128 fit
    (lambda b: FIXED + 2 * GiB * (b // 48) + 0.05 * GiB * b, 4),  # steps in memory
    (linear(14 * GiB), 4),  # not even one step fits
]


def largest(total, step, limit=1 << 14):
    return max((b for b in range(step, limit + 1, step) if total(b) <= HBM), default=0)


@pytest.mark.parametrize("total,step", CASES)
def test_find_batch_is_exact_and_compiles_few_batches_that_fit(monkeypatch, total, step):
    calls = fake_plan(monkeypatch, total)
    seen = []
    fb = report.find_batch("v5e:2x2", "train", 64, step, start_result=start_of(total),
                           progress=lambda s: seen.append(s["done"]))  # fmt: skip
    want = largest(total, step)
    assert fb["batch"] == want and fb["exact"] and fb["done"]
    assert fb["upper"] == want + step
    assert 64 not in calls, "the start batch was compiled again"
    assert len(calls) == len(set(calls)), f"a batch compiled twice: {calls}"
    fitting = [b for b in calls if total(b) <= HBM]
    assert len(fitting) <= 3, f"{len(fitting)} compiles that fit: {calls}"
    assert len(calls) <= 8, calls
    assert seen == [False] * len(calls)
    assert [p["batch"] for p in fb["probes"]] == [64, *calls] and fb["probes"][0]["seeded"]
    assert all(isinstance(p["seconds"], float) for p in fb["probes"][1:])


def test_a_linear_memory_takes_one_compile_that_fits(monkeypatch):
    total = linear(0.1 * GiB, hidden=2 * GiB)
    calls = fake_plan(monkeypatch, total)
    report.find_batch("v5e:2x2", "train", 64, 4, start_result=start_of(total))
    # the estimate from the start (fits, short), the edge + one step (fails), the edge (fits)
    assert [total(b) <= HBM for b in calls] == [True, False, True]


def test_without_a_start_result_the_start_is_compiled_once(monkeypatch):
    total = linear(0.1 * GiB)
    calls = fake_plan(monkeypatch, total)
    fb = report.find_batch("v5e:2x2", "train", 64, 4)
    assert calls.count(64) == 1 and fb["batch"] == 130 - 130 % 4


def test_a_resolution_cap_is_kept_in_the_result_and_the_table(monkeypatch, tmp_path):
    total = lambda b: FIXED + 0.0005 * GiB * b + 0.000004 * GiB * b * b  # noqa: E731
    fake_plan(monkeypatch, total)
    fb = report.find_batch("v5p:2x4x4", "train", 64, 32, start_result=start_of(total),
                           resolution=256)  # fmt: skip
    want = largest(total, 32)
    assert fb["batch"] <= want < fb["upper"] <= fb["batch"] + 256 and fb["resolution"] == 256
    row = {"fits": True, "total_bytes": 5 * GiB, "hbm_bytes": HBM, "flops": {"total": 1e15},
           "roofline_seconds_lower_bound": 1.0, "extra": [], "find_batch": fb}  # fmt: skip
    (tmp_path / "m__v5p_2x4x4__ssft.json").write_text(json.dumps(row))
    page = table.render(tmp_path, ["m"], ["v5p:2x4x4"], ["ssft"], "cmd")
    cell = f"≥ {fb['batch']} (< {fb['upper']}; resolution 256)"
    assert (f"| {cell} |" in page) == (not fb["exact"])


def test_table_batch_cells():
    assert table.batch_cell({}) == ""
    assert table.batch_cell({"find_batch": {"batch": 88, "upper": 92, "exact": True}}) == "88"
    assert table.batch_cell({"find_batch": {"batch": 0, "upper": 4, "exact": True}}) == "0 (none)"
    stopped = {"batch": 88, "upper": 128, "exact": False, "done": False, "resolution": 4}
    assert table.batch_cell({"find_batch": stopped}) == "≥ 88 (< 128; search stopped)"


def test_a_row_whose_state_alone_exceeds_hbm_gets_batch_0_without_a_compile(tmp_path):
    row = tmp_path / "m__v5e_2x2__ssft.json"
    r = {"fits": False, "hbm_bytes": HBM, "param_bytes": 8 * GiB, "opt_state_bytes": 15 * GiB,
         "args": ["--topology", "v5e:2x2"]}  # fmt: skip
    row.write_text(json.dumps(r))
    fb = table.search_batch(row, timeout=1)
    assert fb["batch"] == 0 and fb["exact"] and "alone exceed HBM" in fb["reason"]
    assert json.loads(row.read_text())["find_batch"] == fb


def test_a_killed_search_keeps_its_bounds_in_the_row(tmp_path, monkeypatch):
    row = tmp_path / "m__v5e_2x2__ssft.json"
    r = {"fits": True, "hbm_bytes": HBM, "param_bytes": GiB, "opt_state_bytes": 2 * GiB,
         "args": ["--topology", "v5e:2x2"]}  # fmt: skip
    row.write_text(json.dumps(r))
    partial = {"batch": 88, "upper": 128, "exact": False, "done": False, "probes": []}

    def run(cmd, **kw):  # plan.py wrote its bounds after a probe, then was killed
        out = next(a.split("=", 1)[1] for a in cmd if a.startswith("--output="))
        with open(out, "w") as f:
            json.dump({**r, "find_batch": partial}, f)
        return table.subprocess.CompletedProcess(cmd, -9, "", "Killed")

    monkeypatch.setattr(table.subprocess, "run", run)
    fb = table.search_batch(row, timeout=10)
    assert fb["batch"] == 88 and fb["done"] is False and fb["stopped"] == "Killed"
    stored = json.loads(row.read_text())
    assert stored["find_batch"] == fb and table.batch_cell(stored) == "≥ 88 (< 128; search stopped)"
    assert not (tmp_path / "m__v5e_2x2__ssft.batch.json").exists()
