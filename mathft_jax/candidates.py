"""The candidates file: its schema, reading, writing, append-and-resume, and sample answers.

The one module that knows the format decode writes, score extends, and evaluate, the recipe, the
verifier-data builder and the grading benchmark read. One JSON object a line (see WORKSPACE.md):
    {"unique_id": str, "problem": str, "answer": str, "greedy": str (optional),
     "samples": [str, ...], "sample_answers": [str | null, ...] (optional),
     "verifier_scores": [float, ...] (optional), "meta": {...} (optional)}

Keys outside the format (the real pools carry `source` and `sample_labels`) are kept in `extra`
and written back unchanged. A line that breaks the format raises `CandidatesFormatError` naming the
file, the line and what was expected, so a broken decode output is found at its source.

Paths may be local or URLs such as gs:// (`mathft_jax.paths_io`, etils.epath). Jobs that append
(decode, score) resume with `read_done_ids` (a torn last line, left by a crash mid-write, is cut
off) and write with `open_append` and `format_line`.

Answers and labels: `sample_answers` is the one rule for a sample's final answer (a recorded
string wins, else it is extracted). `label_samples` marks each sample correct or not against the
row's ground truth (`grading.is_equiv_many`, worker processes with a deadline); it lives here, not
in `data/` or `evaluation/`, so the verifier-data builder (`data.readers.read_labelled_candidates`)
labels a pool without importing evaluation: data only reads, and evaluation's clustering is not
needed to say whether one answer is right.

Imports grading and paths_io only: no JAX, TensorFlow, data, evaluation, inference or training.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any

from mathft_jax import jsonl, paths_io
from mathft_jax.grading import extract_answer, is_equiv_many

log = logging.getLogger(__name__)
ExtractFn = Callable[[str], "str | None"]

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
    """A candidates file line that does not follow the format (the message starts FILE:LINE)."""


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


def iter_candidates(path: paths_io.PathLike) -> Iterator[Candidates]:
    """Yields validated rows of a candidates file (local or URL); blank lines are skipped.

    Each line is decoded on its own: a byte that is not UTF-8 raises `CandidatesFormatError`
    ("FILE:LINE: not UTF-8 (byte 0x.. at column ..)"), as does a line that is not JSON.
    """
    for _, row in _numbered_rows(path):
        yield row


def _numbered_rows(path: paths_io.PathLike) -> Iterator[tuple[int, Candidates]]:
    with paths_io.open_file(path, "rb") as f:
        for lineno, raw in jsonl.numbered_lines(f):
            where = f"{os.fspath(path)}:{lineno}"
            try:
                obj = jsonl.parse_line(raw, where)
            except jsonl.LineError as e:
                raise CandidatesFormatError(str(e)) from None
            yield lineno, parse_row(obj, where)


def read_candidates(path: paths_io.PathLike, unique: bool = True) -> list[Candidates]:
    """Reads a whole candidates file; an empty file is an error (nothing to evaluate).

    With `unique` (the default: every reader that evaluates or trains on a file), a `unique_id`
    on more than one line is an error naming the ids and their lines: two jobs appending to one
    file, or a file concatenated twice, would otherwise count problems twice.
    """
    numbered = list(_numbered_rows(path))
    if not numbered:
        raise CandidatesFormatError(f"{os.fspath(path)}: no candidate rows")
    if unique:
        _check_unique_ids(path, numbered)
    return [row for _, row in numbered]


def _check_unique_ids(path: paths_io.PathLike, numbered: Sequence[tuple[int, Candidates]]) -> None:
    """Raises `CandidatesFormatError` when a `unique_id` is on two lines (names the first few)."""
    lines: dict[str, list[int]] = {}
    for lineno, row in numbered:
        lines.setdefault(row.unique_id, []).append(lineno)
    dups = {uid: where for uid, where in lines.items() if len(where) > 1}
    if dups:
        shown = "; ".join(f"{uid!r} on lines {where}" for uid, where in list(dups.items())[:5])
        more = f" (and {len(dups) - 5} more)" if len(dups) > 5 else ""
        raise CandidatesFormatError(
            f"{os.fspath(path)}: {len(dups)} unique_id(s) on more than one line: {shown}{more}. "
            "Two jobs wrote this file, or it was concatenated; keep one line per problem."
        )


def format_line(row: Candidates) -> str:
    """One row as its JSON line (UTF-8 text, non-ASCII kept readable, newline-terminated)."""
    return json.dumps(row.to_json(), ensure_ascii=False) + "\n"


def write_candidates(path: paths_io.PathLike, rows: Iterable[Candidates]) -> None:
    """Writes rows as JSON lines, replacing the file."""
    with paths_io.open_file(path, "w") as f:
        for row in rows:
            f.write(format_line(row))


# --------------------------------------------------------------------------- append and resume


def read_done_ids(path: paths_io.PathLike) -> set[str]:
    """`unique_id`s already in a candidates file being appended to; none when it does not exist.

    A torn last line (a crash mid-write: no newline, not JSON) is cut off the file, so the next
    append starts on a line of its own; any other bad line raises `CandidatesFormatError`.
    """
    file = paths_io.as_path(path)
    if not file.exists():
        return set()
    data = file.read_bytes()
    done, good_bytes = set(), 0
    for lineno, line in enumerate(io.BytesIO(data), start=1):
        try:
            done.add(json.loads(line)["unique_id"])
        except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as err:
            if line.endswith(b"\n"):
                where = f"{os.fspath(path)}:{lineno}"
                try:
                    jsonl.decode_line(line, where)
                except jsonl.LineError as bad_bytes:
                    raise CandidatesFormatError(str(bad_bytes)) from None
                raise _fail(where, "not a candidates record (no unique_id)") from err
            break  # a torn final line: drop it below
        good_bytes += len(line)
    if good_bytes != len(data):
        log.warning("%s: dropping a partial last line (an earlier run was cut off)", path)
        if paths_io.is_url(path):  # an object in a bucket cannot be truncated in place
            file.write_bytes(data[:good_bytes])
        else:
            with open(path, "r+b") as f:
                f.truncate(good_bytes)
    return done


@contextlib.contextmanager
def open_append(path: paths_io.PathLike) -> Iterator[IO[str]]:
    """`path` opened for appending (UTF-8); a local path's folder is created (a bucket has none).

    Write `format_line(row)` per row and flush once a batch: a bucket file is uploaded whole at
    each flush, and a crash then loses at most the batch being written.
    """
    if not paths_io.is_url(path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with paths_io.open_file(path, "a") as out:
        yield out


# --------------------------------------------------------------------------- answers and labels


def has_answer(answer: str | None) -> bool:
    """A sample has an answer (and votes) only when one was extracted and it is not blank."""
    return answer is not None and answer.strip() != ""


def sample_answers(
    row: Candidates, extract: ExtractFn | None = None, reextract: bool = False
) -> list[str | None]:
    """The answer of each sample: recorded when a string (unless `reextract`), else extracted
    (`extract`, default `grading.extract_answer`); a blank answer becomes None."""
    extract = extract or extract_answer
    recorded = row.sample_answers if row.sample_answers is not None and not reextract else None
    out = []
    for i, text in enumerate(row.samples):
        answer = recorded[i] if recorded is not None else None
        if answer is None:
            answer = extract(text)
        out.append(answer if has_answer(answer) else None)
    return out


def label_samples(rows: Sequence[Candidates], workers: int = 2) -> list[tuple[bool, ...]]:
    """Per row, per sample: is the sample's answer (`sample_answers`) equivalent to the row's
    ground truth? A sample without an answer is incorrect. Graded in `workers` processes with a
    hard per-pair deadline (`grading.is_equiv_many`); over the deadline counts as incorrect."""
    pairs, index = [], []
    for r, row in enumerate(rows):
        for s, answer in enumerate(sample_answers(row)):
            if answer is not None:
                pairs.append((row.answer, answer))
                index.append((r, s))
    verdicts = dict(zip(index, is_equiv_many(pairs, workers)))
    return [
        tuple(bool(verdicts.get((r, s), False)) for s in range(len(row.samples)))
        for r, row in enumerate(rows)
    ]
