"""Side-by-side results tables of an experiment (markdown), from `summary.summarize` metrics dicts.

Every cell is `mean [95% CI]` over problems (normal approximation, `metrics.mean_ci`); metrics at
N are those of the full pool (the largest N).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mathft_jax.evaluation import report


def cell(stat: Mapping[str, Any] | None) -> str:
    """`0.250 [0.16, 0.34]`; `n/a` when the metric is missing."""
    if not stat:
        return "n/a"
    return report.format_stat(stat)


def _at_n(result: Mapping[str, Any]) -> tuple[int, Mapping[str, Any]]:
    n = max(result["ns"])
    return n, result["by_n"][str(n)]


def _pass1_note(rows: Mapping[str, Mapping[str, Any]]) -> str:
    kinds = {label: r["pass1"]["kind"] for label, r in rows.items()}
    if len(set(kinds.values())) == 1:
        kind = next(iter(kinds.values()))
        return f"Pass@1 is {'greedy decoding' if kind == 'greedy' else 'mean sample accuracy'}."
    return f"Pass@1 kinds differ between rows: {kinds}."


def _footer(notes: Sequence[str]) -> list[str]:
    return ["", *[f"- {n}" for n in notes]] if notes else []


def generator_table(rows: Mapping[str, Mapping[str, Any]], notes: Sequence[str] = ()) -> str:
    """One row per generator: Pass@1, mean sample accuracy, Maj1@N, Pass@N (mean [95% CI])."""
    lines = [
        "| model | problems | N | Pass@1 | mean sample acc | Maj1@N | Pass@N |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, result in rows.items():
        n, at_n = _at_n(result)
        cells = [
            cell(result["pass1"]),
            cell(result.get("mean_sample_accuracy")),
            cell(at_n.get("maj1")),
            cell(at_n.get("pass@n")),
        ]
        lines.append(f"| {label} | {result['num_problems']} | {n} | " + " | ".join(cells) + " |")
    lines += ["", _pass1_note(rows) + " Values: mean [95% CI] over problems.", *_footer(notes)]
    return "\n".join(lines) + "\n"


def scr_table(
    rows: Mapping[str, Mapping[str, Any]], ks: Sequence[int], notes: Sequence[str] = ()
) -> str:
    """Majority voting, re-rank-all and SCR-K per verifier, with samples scored per problem.

    `rows` maps verifier label -> metrics of the same test pool scored by that verifier; the
    Maj1@N row (no verifier, nothing scored) comes from the first.
    """
    first = next(iter(rows.values()))
    n, at_n = _at_n(first)
    lines = [
        f"{first['num_problems']} problems, N = {n}; Pass@N {cell(at_n.get('pass@n'))}, "
        f"mean sample accuracy {cell(first.get('mean_sample_accuracy'))}, "
        f"Pass@1 {cell(first['pass1'])} ({first['pass1']['kind']}).",
        "",
        "| method | verifier | accuracy at N | samples scored / problem |",
        "|---|---|---|---|",
        f"| Maj1@N | none | {cell(at_n.get('maj1'))} | 0 |",
    ]
    for label, result in rows.items():
        _, at_n = _at_n(result)
        methods = [("re-rank all", "rerank_all")] + [(f"SCR-{k}", f"scr{k}") for k in ks]
        for method, key in methods:
            cost = at_n.get(f"cost_{key}")
            cost_text = f"{cost['mean']:.2f}" if cost else "n/a"
            lines.append(f"| {method} | {label} | {cell(at_n.get(key))} | {cost_text} |")
    lines += [
        "",
        "Values: mean [95% CI] over problems. SCR-K scores every sample of the top-K answer "
        "clusters; re-rank all scores all N. Ties are broken uniformly at random (exact "
        "expected accuracy).",
        *_footer(notes),
    ]
    return "\n".join(lines) + "\n"
