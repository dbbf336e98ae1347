"""Write a metrics dict (from `summary.summarize`) as metrics.json, metrics.md and a PNG plot."""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any


def _fmt(stat: dict[str, Any], ci: bool = True) -> str:
    text = f"{stat['mean']:.3f}"
    if ci and stat.get("ci95_low") is not None:
        text += f" [{stat['ci95_low']:.2f}, {stat['ci95_high']:.2f}]"
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
        f"–{result['pool_size']['max']}; Pass@1 ({kind}): {_fmt(pass1)}"
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
        cells = [_fmt(row[key], ci=not key.startswith("cost_")) for key, _ in cols]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += ["", "| k | pass@k (unbiased) |", "|---|---|"]
    for k, stat in result["pass_at_k"].items():
        lines.append(f"| {k} | {_fmt(stat)} |")
    return "\n".join(lines) + "\n"


def plot_vs_n(result: dict[str, Any], path: str | os.PathLike[str], title: str = "") -> None:
    """PNG of Pass@N, Maj1@N, MajK@N, re-rank-all and SCR-K against N (log2 x-axis).

    Line style marks the family (dotted: Pass@N, dashed: majority, solid: verifier), since
    SCR-1 equals Maj1@N by construction and would otherwise hide it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = result["ns"]
    keys = [("pass@n", "Pass@N"), ("maj1", "Maj1@N")]
    keys += [(f"maj{k}", f"Maj{k}@N") for k in result["ks"] if k != 1]
    if result["has_verifier_scores"]:
        keys += [("rerank_all", "re-rank all")] + [(f"scr{k}", f"SCR-{k}") for k in result["ks"]]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label in keys:
        means = [result["by_n"][str(n)][key]["mean"] for n in ns]
        style = ":" if key == "pass@n" else "--" if key.startswith("maj") else "-"
        marker = "s" if key.startswith("maj") else "o"
        zorder = 3 if key.startswith("maj") else 2  # dashed over solid: both stay visible
        ax.plot(ns, means, linestyle=style, marker=marker, markersize=4, label=label, zorder=zorder)
    if len(ns) > 1:
        ax.set_xscale("log", base=2)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("N (samples per problem)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{title + ': ' if title else ''}{result['num_problems']} problems", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
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
