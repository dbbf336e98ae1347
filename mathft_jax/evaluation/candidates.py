"""Candidates files: read, validate and write the JSON-lines format that decode/score write.

One JSON object a line (see WORKSPACE.md):
    {"unique_id": str, "problem": str, "answer": str, "greedy": str (optional),
     "samples": [str, ...], "sample_answers": [str | null, ...] (optional),
     "verifier_scores": [float, ...] (optional), "meta": {...} (optional)}

Keys outside the format (the real pools carry `source` and `sample_labels`) are kept in `extra`
and otherwise ignored. A line that breaks the format raises `CandidatesFormatError` naming the file,
the line and what was expected, so a broken decode output is found at its source.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Iterator
from typing import Any

_KNOWN_KEYS = (
    "unique_id",
    "problem",
    "answer",
    "greedy",
    "samples",
    "sample_answers",
    "verifier_scores",
    "meta",
)


class CandidatesFormatError(ValueError):
    """A candidates file line that does not follow the format."""


@dataclasses.dataclass(frozen=True)
class Candidates:
    """One problem's candidates: the ground truth and the N sampled solutions."""

    unique_id: str
    problem: str
    answer: str
    samples: tuple[str, ...]
    greedy: str | None = None
    sample_answers: tuple[str | None, ...] | None = None
    verifier_scores: tuple[float, ...] | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON object for this row (optional keys only when set)."""
        row: dict[str, Any] = {
            "unique_id": self.unique_id,
            "problem": self.problem,
            "answer": self.answer,
        }
        if self.greedy is not None:
            row["greedy"] = self.greedy
        row["samples"] = list(self.samples)
        if self.sample_answers is not None:
            row["sample_answers"] = list(self.sample_answers)
        if self.verifier_scores is not None:
            row["verifier_scores"] = list(self.verifier_scores)
        if self.meta:
            row["meta"] = dict(self.meta)
        row.update(self.extra)
        return row


def _fail(where: str, message: str) -> CandidatesFormatError:
    return CandidatesFormatError(f"{where}: {message}")


def parse_row(obj: Any, where: str) -> Candidates:
    """Validates one decoded JSON value; `where` ("file:line") prefixes every error."""
    if not isinstance(obj, dict):
        raise _fail(where, f"expected a JSON object, got {type(obj).__name__}")
    for key in ("problem", "answer", "samples"):
        if key not in obj:
            raise _fail(where, f"missing required key {key!r}")
    unique_id = obj.get("unique_id")
    if unique_id is None:
        raise _fail(
            where, "missing required key 'unique_id' (a string such as 'test/algebra/1.json')"
        )
    for key in ("unique_id", "problem", "answer"):
        if not isinstance(obj[key], str):
            raise _fail(where, f"{key!r} must be a string, got {type(obj[key]).__name__}")
    greedy = obj.get("greedy")
    if greedy is not None and not isinstance(greedy, str):
        raise _fail(where, f"'greedy' must be a string, got {type(greedy).__name__}")
    samples = obj["samples"]
    if not isinstance(samples, list) or not all(isinstance(s, str) for s in samples):
        raise _fail(where, "'samples' must be a list of strings")
    n = len(samples)
    sample_answers = obj.get("sample_answers")
    if sample_answers is not None:
        if not isinstance(sample_answers, list) or not all(
            a is None or isinstance(a, str) for a in sample_answers
        ):
            raise _fail(where, "'sample_answers' must be a list of strings or nulls")
        if len(sample_answers) != n:
            raise _fail(
                where,
                f"'sample_answers' has {len(sample_answers)} entries, expected {n} (one per sample)",
            )
    scores = obj.get("verifier_scores")
    if scores is not None:
        if not isinstance(scores, list) or not all(
            isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s)
            for s in scores
        ):
            raise _fail(where, "'verifier_scores' must be a list of finite numbers")
        if len(scores) != n:
            raise _fail(
                where, f"'verifier_scores' has {len(scores)} entries, expected {n} (one per sample)"
            )
    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise _fail(where, f"'meta' must be an object, got {type(meta).__name__}")
    return Candidates(
        unique_id=unique_id,
        problem=obj["problem"],
        answer=obj["answer"],
        samples=tuple(samples),
        greedy=greedy,
        sample_answers=None if sample_answers is None else tuple(sample_answers),
        verifier_scores=None if scores is None else tuple(float(s) for s in scores),
        meta=meta,
        extra={k: v for k, v in obj.items() if k not in _KNOWN_KEYS},
    )


def iter_candidates(path: str | os.PathLike[str]) -> Iterator[Candidates]:
    """Yields validated rows of a candidates file; blank lines are skipped."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{os.fspath(path)}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise _fail(where, f"not valid JSON ({e.msg} at column {e.colno})") from None
            yield parse_row(obj, where)


def read_candidates(path: str | os.PathLike[str]) -> list[Candidates]:
    """Reads a whole candidates file; an empty file is an error (nothing to evaluate)."""
    rows = list(iter_candidates(path))
    if not rows:
        raise CandidatesFormatError(f"{os.fspath(path)}: no candidate rows")
    return rows


def write_candidates(path: str | os.PathLike[str], rows: Iterable[Candidates]) -> None:
    """Writes rows as JSON lines (UTF-8, non-ASCII kept readable)."""
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
