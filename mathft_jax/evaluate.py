r"""Evaluate a candidates file: grade, cluster, and report Pass@1/Pass@N/MajK@N/re-rank/SCR.

    python -m mathft_jax.evaluate --candidates FILE --output_dir DIR \
        [--n 1,2,4,...] [--k 1,2,4] [--reextract] [--num_subsets 100] [--subset_seed 0] [--workers 1]

Writes DIR/metrics.json, DIR/metrics.md and DIR/metrics_vs_n.png. The logic lives in
`mathft_jax.candidates` (the file) and `mathft_jax.evaluation` (clustering, grade, metrics,
summary, report).
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Sequence

from absl import app, flags, logging

from mathft_jax import candidates
from mathft_jax.evaluation import grade, report, summary

_CANDIDATES = flags.DEFINE_string("candidates", None, "Candidates JSON-lines file.", required=True)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Where the reports go.", required=True)
_N = flags.DEFINE_list("n", None, "Sample counts N to report; default 1,2,4,... and the pool size.")
_K = flags.DEFINE_list("k", ["1", "2", "4"], "K for MajK@N, SCR-K and pass@k.")
_REEXTRACT = flags.DEFINE_bool(
    "reextract", False, "Ignore recorded sample_answers; extract answers from the sample texts."
)
_NUM_SUBSETS = flags.DEFINE_integer("num_subsets", 100, "Random subsets per problem at N < pool.")
_SUBSET_SEED = flags.DEFINE_integer("subset_seed", 0, "Seed of the random subsets at N < pool.")
_WORKERS = flags.DEFINE_integer("workers", 1, "Grading processes.")


def _ints(flag: str, values: Sequence[str] | None) -> list[int] | None:
    if values is None:
        return None
    try:
        return [int(v) for v in values]
    except ValueError:
        raise app.UsageError(f"--{flag} must be comma-separated integers, got {values}") from None


def main(argv: Sequence[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        rows = candidates.read_candidates(_CANDIDATES.value)
    except (OSError, candidates.CandidatesFormatError) as e:
        sys.exit(f"error: --candidates: {e}")  # names the file and line; no traceback
    logging.info("read %d problems from %s", len(rows), _CANDIDATES.value)
    graded = grade.grade_all(rows, reextract=_REEXTRACT.value, workers=_WORKERS.value)
    try:
        result = summary.summarize(
            graded,
            ns=_ints("n", _N.value),
            ks=_ints("k", _K.value) or [1],
            seed=_SUBSET_SEED.value,
            num_subsets=_NUM_SUBSETS.value,
        )
    except ValueError as e:
        raise app.UsageError(str(e)) from None
    result["candidates"] = str(_CANDIDATES.value)
    result["reextract"] = _REEXTRACT.value
    report.write_report(result, _OUTPUT_DIR.value, title=pathlib.Path(_CANDIDATES.value).name)
    print(report.markdown_table(result, pathlib.Path(_CANDIDATES.value).name))


if __name__ == "__main__":
    app.run(main)
