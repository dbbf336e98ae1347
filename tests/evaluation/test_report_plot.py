"""One accuracy-vs-N plot for one metrics dict or many rows, with 95% CI bands."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402

from mathft_jax.evaluation import report  # noqa: E402


def _result(mean: float, scores: bool = True) -> dict:
    stat = {"mean": mean, "ci95_low": mean - 0.1, "ci95_high": mean + 0.1}
    row = {"pass@n": stat, "maj1": stat, "maj2": stat}
    if scores:
        row |= {"rerank_all": stat, "scr1": stat, "scr2": stat}
    return {"ns": [1, 2, 4], "ks": [1, 2], "num_problems": 3, "has_verifier_scores": scores,
            "by_n": {str(n): row for n in (1, 2, 4)}}  # fmt: skip


@pytest.fixture
def figures(monkeypatch):
    """The figures plot_vs_n draws (closed figures kept for inspection)."""
    drawn = []
    monkeypatch.setattr(plt, "close", drawn.append)
    return drawn


def test_one_result_is_one_panel_with_a_band_per_curve(tmp_path, figures):
    report.plot_vs_n(_result(0.5), tmp_path / "one.png", title="t")
    (ax,) = figures[0].axes
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["Pass@N", "Maj1@N", "Maj2@N", "re-rank all", "SCR-1", "SCR-2"]
    assert len(ax.collections) == len(labels)  # one fill_between band per curve
    assert (tmp_path / "one.png").read_bytes()[:4] == b"\x89PNG"


def test_rows_per_metric_share_a_panel(tmp_path, figures):
    rows = {"ssft": _result(0.25, scores=False), "multitask": _result(0.5, scores=False)}
    report.plot_vs_n(rows, tmp_path / "rows.png", metrics=["maj1", "pass@n"])
    axes = figures[0].axes
    assert [ax.get_title() for ax in axes] == ["Maj1", "Pass@N"]
    for ax in axes:
        assert [line.get_label() for line in ax.get_lines()] == ["ssft", "multitask"]
        band = ax.collections[1].get_paths()[0].vertices[:, 1]
        assert band.min() == pytest.approx(0.4) and band.max() == pytest.approx(0.6)
    report.plot_vs_n(rows, tmp_path / "panels.png")  # no metrics: one panel per row
    assert [ax.get_title() for ax in figures[1].axes] == [
        "ssft: 3 problems",
        "multitask: 3 problems",
    ]


def test_plot_goes_to_a_gs_url(bucket):
    report.plot_vs_n(_result(0.5), "gs://bucket/plots/curves.png")
    assert (bucket / "bucket" / "plots" / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_printed_intervals_are_rounded_outwards_so_they_hold_the_mean():
    near_one = {"mean": 0.999, "ci95_low": 0.9951, "ci95_high": 1.0}
    assert report.format_stat(near_one) == "0.999 [0.99, 1.00]"  # not [1.00, 1.00]
    assert report.format_stat({"mean": 0.25, "ci95_low": 0.152, "ci95_high": 0.348}) == (
        "0.250 [0.15, 0.35]"
    )
    diff = {"mean": 0.004, "ci95_low": -0.0301, "ci95_high": 0.0301}
    assert report.format_stat(diff, signed=True) == "+0.004 [-0.04, +0.04]"
    assert report.format_stat({"mean": 0.5, "ci95_low": 0.4, "ci95_high": 0.6}) == (
        "0.500 [0.40, 0.60]"  # exact hundredths stay put
    )
    assert report.format_stat({"mean": 0.5, "ci95_low": None}) == "0.500"
