"""Write a metrics dict (from `summary.summarize`) as metrics.json, metrics.md and a PNG plot."""

from __future__ import annotations

import json
import math
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

from mathft_jax import paths_io


def format_stat(stat: Mapping[str, Any], ci: bool = True, signed: bool = False) -> str:
    """`0.250 [0.15, 0.35]` (`+0.250 [-0.05, +0.55]` signed): the mean to 3 decimals, the 95% CI
    to 2, rounded outwards so the printed interval still holds the interval (and the mean: .999
    with a CI of [.995, 1] prints [0.99, 1.00], not [1.00, 1.00])."""
    sign = "+" if signed else ""
    text = f"{stat['mean']:{sign}.3f}"
    if ci and stat.get("ci95_low") is not None:
        low = math.floor(stat["ci95_low"] * 100 + 1e-9) / 100
        high = math.ceil(stat["ci95_high"] * 100 - 1e-9) / 100
        text += f" [{low:{sign}.2f}, {high:{sign}.2f}]"
    return text


def _columns(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(metric key, column title) pairs in table order."""
    ks = result["ks"]
    cols = [("pass@n", "Pass@N")] + [(f"maj{k}", f"Maj{k}@N") for k in ks]
    if result["has_verifier_scores"]:
        cols += [("rerank_all", "re-rank all")] + [(f"scr{k}", f"SCR-{k}") for k in ks]
        cols += [("weighted_vote", "weighted vote"), ("cost_rerank_all", "scored: all")]
        cols += [(f"cost_scr{k}", f"scored: SCR-{k}") for k in ks]
    return cols


def markdown_table(result: dict[str, Any], title: str = "") -> str:
    """Markdown: Pass@1 line, a table of metrics against N (mean [95% CI]) and pass@k."""
    pass1 = result["pass1"]
    kind = "greedy" if pass1["kind"] == "greedy" else "mean per-sample accuracy (no greedy text)"
    lines = [f"## {title}" if title else "## Metrics", ""]
    lines.append(
        f"{result['num_problems']} problems, pool size {result['pool_size']['min']}"
        f"–{result['pool_size']['max']}; Pass@1 ({kind}): {format_stat(pass1)}"
    )
    clus = result["clustering"]
    lines.append(
        f"distinct answers/problem {clus['distinct_answers_per_problem']:.2f}, clusters/problem "
        f"{clus['clusters_per_problem']:.2f}, no-answer rate {clus['no_answer_rate']:.3f}"
    )
    issues = result.get("grading_issues")
    if issues and any(issues[k] for k in issues if k != "problems_affected"):
        kinds = ", ".join(
            f"{n} {k.replace('_', ' ')}"
            for k, n in issues.items()
            if n and k != "problems_affected"
        )
        lines.append(
            f"grader: {kinds} on {issues['problems_affected']} problems (each answered not equal)"
        )
    lines += [
        "",
        f"Values are mean [95% CI]; N below the pool size: mean of "
        f"{result['num_subsets']} seeded subsets (seed {result['seed']}). Ties: "
        f"{result['tie_rule']}.",
        "",
    ]
    cols = _columns(result)
    lines.append("| N | " + " | ".join(title for _, title in cols) + " |")
    lines.append("|---" * (len(cols) + 1) + "|")
    for n in result["ns"]:
        row = result["by_n"][str(n)]
        cells = [format_stat(row[key], ci=not key.startswith("cost_")) for key, _ in cols]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += ["", "| k | pass@k (unbiased) |", "|---|---|"]
    for k, stat in result["pass_at_k"].items():
        lines.append(f"| {k} | {format_stat(stat)} |")
    return "\n".join(lines) + "\n"


def _metric_keys(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(metric key, label) of the curves of one metrics dict, in plot order."""
    keys = [("pass@n", "Pass@N"), ("maj1", "Maj1@N")]
    keys += [(f"maj{k}", f"Maj{k}@N") for k in result["ks"] if k != 1]
    if result.get("has_verifier_scores", "rerank_all" in result["by_n"][str(result["ns"][0])]):
        keys += [("rerank_all", "re-rank all")] + [(f"scr{k}", f"SCR-{k}") for k in result["ks"]]
    return keys


def _curve(ax: Any, result: dict[str, Any], key: str, label: str, **style: Any) -> None:
    """One metric against N with its 95% CI band (fill_between of ci95_low/high)."""
    ns = [n for n in result["ns"] if key in result["by_n"][str(n)]]
    stats = [result["by_n"][str(n)][key] for n in ns]
    (line,) = ax.plot(ns, [s["mean"] for s in stats], label=label, markersize=4, **style)
    if all(s.get("ci95_low") is not None for s in stats):
        lows, highs = [s["ci95_low"] for s in stats], [s["ci95_high"] for s in stats]
        ax.fill_between(ns, lows, highs, color=line.get_color(), alpha=0.15, linewidth=0)


def plot_vs_n(
    results: dict[str, Any],
    path: str | os.PathLike[str],
    title: str = "",
    metrics: Sequence[str] | None = None,
) -> None:
    """PNG of accuracy against N (log2 x-axis) with 95% CI bands, for one or many rows.

    `results` is one metrics dict (`summary.summarize`) or {row label: metrics dict} (models or
    variants). Without `metrics`: one panel per row holding Pass@N, Maj1@N, MajK@N, re-rank-all
    and SCR-K; line style marks the family (dotted: Pass@N, dashed: majority, solid: verifier),
    since SCR-1 equals Maj1@N by construction and would otherwise hide it. With `metrics` (keys of
    `by_n[N]`, e.g. ["maj1", "pass@n"]): one panel per metric, one line per row, so rows compare
    on one axis. `path` is a local path or a gs:// URL (written through etils.epath).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = {"": results} if "by_n" in results else dict(results)
    if not rows:
        raise ValueError("plot_vs_n: no rows to plot")
    panels: list[tuple[str, list[tuple[dict[str, Any], str, str, dict[str, Any]]]]] = []
    if metrics is None:
        for name, result in rows.items():
            curves = []
            for key, label in _metric_keys(result):
                style = ":" if key == "pass@n" else "--" if key.startswith("maj") else "-"
                marker = "s" if key.startswith("maj") else "o"
                zorder = 3 if key.startswith("maj") else 2  # dashed over solid: both visible
                curves.append(
                    (result, key, label, {"linestyle": style, "marker": marker, "zorder": zorder})
                )
            head = f"{name}: " if name else ""
            panels.append((f"{head}{result['num_problems']} problems", curves))
    else:
        names = {"pass@n": "Pass@N", "rerank_all": "re-rank all"}
        for key in metrics:
            curves = [(r, key, name or key, {"marker": "o"}) for name, r in rows.items()]
            panels.append(
                (names.get(key, key.replace("maj", "Maj").replace("scr", "SCR-")), curves)
            )
    cols = min(3, len(panels))  # at most three panels a line
    lines = -(-len(panels) // cols)
    fig, axes = plt.subplots(lines, cols, figsize=(6 * cols, 4.5 * lines), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, (panel_title, curves) in zip(axes.flat, panels):
        ns = sorted({n for result, *_ in curves for n in result["ns"]})
        for result, key, label, style in curves:
            _curve(ax, result, key, label, **style)
        if len(ns) > 1:
            ax.set_xscale("log", base=2)
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.set_xlabel("N (samples per problem)")
        ax.set_ylabel("accuracy (95% CI band)")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        ax.set_title(f"{title + ': ' if title else ''}{panel_title}", fontsize=10)
    fig.tight_layout()
    with paths_io.as_path(path).open("wb") as f:  # a local file or a gs:// object alike
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)


def write_report(
    result: dict[str, Any], output_dir: str | os.PathLike[str], title: str = ""
) -> None:
    """Writes metrics.json, metrics.md and metrics_vs_n.png into `output_dir` (created)."""
    out = pathlib.Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    (out / "metrics.md").write_text(markdown_table(result, title), encoding="utf-8")
    plot_vs_n(result, out / "metrics_vs_n.png", title)
