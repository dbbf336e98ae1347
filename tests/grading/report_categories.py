"""Prints what the grader does on each category of the hand-written and adversarial tables.

    python tests/grading/report_categories.py

One line per category: pairs, equivalent pairs, near misses, pairs judged right, slowest call (ms).
The tables are the ones the tests assert on (`grading_cases.py`, `adversarial_cases.py`).
"""

import collections
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from adversarial_cases import ADVERSARIAL, ADVERSARIAL_HOSTILE  # noqa: E402
from grading_cases import CASES, HOSTILE  # noqa: E402

from mathft_jax.grading import is_equiv  # noqa: E402


def main() -> None:
    tables: dict[str, list[tuple[str, str, bool]]] = collections.defaultdict(list)
    for source in (CASES, ADVERSARIAL):
        for category, rows in source.items():
            tables[category] += rows
    tables["hostile"] = [*HOSTILE, *ADVERSARIAL_HOSTILE]
    print(f"{'category':22s} pairs  equiv  near-miss  correct  max ms")
    for category, rows in tables.items():
        right, slowest = 0, 0.0
        for truth, candidate, label in rows:
            start = time.perf_counter()
            right += is_equiv(truth, candidate) == label
            slowest = max(slowest, time.perf_counter() - start)
        equivalent = sum(label for *_, label in rows)
        print(
            f"{category:22s} {len(rows):5d} {equivalent:6d} {len(rows) - equivalent:10d} "
            f"{right:8d} {slowest * 1e3:7.1f}"
        )


if __name__ == "__main__":
    main()
