"""Readers: MATH (jsonl or the original release tree) and PRM800K phase 1/2 lines.

Readers read: they parse, validate and extract final answers (`grading.extract_answer`), and never
judge correctness (PRM800K samples are labelled by `math_tasks.label_prm800k`). Candidate pools are
read by `mathft_jax.candidates`, the candidates file's own module.
Bad input raises `DataFormatError` naming file and line; with `on_error="skip"` the line is skipped
and counted in a `ReadReport` (logged), so nothing disappears silently. No TensorFlow or JAX import.
"""

import dataclasses
import json
import logging
import os
import pathlib
from collections.abc import Iterator
from typing import Any

from mathft_jax import jsonl
from mathft_jax.data import prompts
from mathft_jax.grading import extract_answer

log = logging.getLogger(__name__)
MATH_FIELDS = ("problem", "level", "type", "solution")


class DataFormatError(ValueError):
    """An input line or file that does not follow its format (the message names file and line)."""


@dataclasses.dataclass
class ReadReport:
    """What a reader read, skipped, and found lacking (for logs and `stats`)."""

    source: str
    read: int = 0
    skipped: list[str] = dataclasses.field(default_factory=list)  # "file:line: why"
    missing_answer: list[str] = dataclasses.field(default_factory=list)  # unique ids / file:line

    def log(self) -> None:
        """Logs the counts, warning where something was skipped or lacks an answer."""
        level = logging.WARNING if self.skipped or self.missing_answer else logging.INFO
        log.log(
            level,
            "%s: read %d, skipped %d bad (first: %s), %d without a final answer (first: %s)",
            self.source, self.read, len(self.skipped), self.skipped[:3],
            len(self.missing_answer), self.missing_answer[:3],
        )  # fmt: skip


def _check_on_error(on_error: str) -> None:
    if on_error not in ("raise", "skip"):
        raise ValueError(f'on_error must be "raise" or "skip", got {on_error!r}')


def _json_lines(path: pathlib.Path, on_error: str, report: ReadReport) -> Iterator[tuple[str, Any]]:
    """(where, object) per non-blank line; a line that is not UTF-8 or not JSON raises or is
    skipped per `on_error` (each line is decoded on its own, so one bad byte costs one line)."""
    _check_on_error(on_error)
    with open(path, "rb") as f:
        for number, raw in jsonl.numbered_lines(f):
            where = f"{path}:{number}"
            try:
                obj = jsonl.parse_line(raw, where)
            except jsonl.LineError as err:
                why = err.why.replace("not valid JSON (", "invalid JSON (", 1)
                _bad(where, why, on_error, report)
                continue
            yield where, obj


def _bad(where: str, why: str, on_error: str, report: ReadReport) -> None:
    if on_error == "raise":
        raise DataFormatError(f"{where}: {why}")
    report.skipped.append(f"{where}: {why}")


# --------------------------------------------------------------------------- MATH


@dataclasses.dataclass(frozen=True)
class MathRecord:
    """One MATH problem; `answer` is the last boxed answer of the solution (None when absent)."""

    unique_id: str
    problem: str
    level: str
    type: str
    solution: str
    answer: str | None


def _math_record(obj: Any, unique_id: str | None, where: str) -> MathRecord:
    if not isinstance(obj, dict):
        raise DataFormatError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in MATH_FIELDS if not isinstance(obj.get(k), str)]
    uid = unique_id or obj.get("unique_id")
    if not isinstance(uid, str):
        missing.append("unique_id")
    if missing:
        raise DataFormatError(f"{where}: missing or non-string fields {missing}")
    return MathRecord(
        uid,
        obj["problem"],
        obj["level"],
        obj["type"],
        obj["solution"],
        extract_answer(obj["solution"]),
    )


def read_math_jsonl(
    path: str | os.PathLike, on_error: str = "raise", report: ReadReport | None = None
) -> list[MathRecord]:
    """MATH as one JSON object a line (`unique_id, problem, level, type, solution`)."""
    path = pathlib.Path(path)
    owned = report is None  # a caller passing its report logs it once, after all files
    report = report or ReadReport(str(path))
    out = []
    for where, obj in _json_lines(path, on_error, report):
        try:
            out.append(_math_record(obj, None, where))
        except DataFormatError as err:
            _bad(where, str(err).split(": ", 1)[1], on_error, report)
    _finish_math(out, report, owned)
    return out


def read_math_tree(
    root: str | os.PathLike, on_error: str = "raise", report: ReadReport | None = None
) -> list[MathRecord]:
    """The original release: `root/{train,test}/{subject}/{n}.json`; ids as `test/algebra/1.json`."""
    root = pathlib.Path(root)
    _check_on_error(on_error)
    owned = report is None
    report = report or ReadReport(str(root))
    files = sorted(root.glob("*/*/*.json"), key=_tree_order)
    if not files:
        raise DataFormatError(f"{root}: no {{train,test}}/{{subject}}/{{n}}.json files")
    out = []
    for file in files:
        uid = "/".join(file.parts[-3:])
        try:
            text = jsonl.decode_line(file.read_bytes(), str(file))
            out.append(_math_record(json.loads(text), uid, str(file)))
        except jsonl.LineError as err:
            _bad(str(file), err.why, on_error, report)
        except json.JSONDecodeError as err:
            why = f"invalid JSON ({jsonl.json_error_text(err)}, line {err.lineno})"
            _bad(str(file), why, on_error, report)
        except DataFormatError as err:
            _bad(str(file), str(err).split(": ", 1)[1], on_error, report)
    _finish_math(out, report, owned)
    return out


def _tree_order(path: pathlib.Path) -> tuple:
    """train before test (as the jsonl files are read), then subject, then the number in the name."""
    split, subject, stem = path.parts[-3], path.parts[-2], path.stem
    number = (int(stem), "") if stem.isdigit() else (1 << 30, stem)
    return ({"train": 0, "test": 1}.get(split, 2), split, subject, number)


def _finish_math(records: list[MathRecord], report: ReadReport, log_now: bool) -> None:
    report.read += len(records)
    report.missing_answer += [r.unique_id for r in records if r.answer is None]
    if log_now:
        report.log()


def read_math(
    data_dir: str | os.PathLike, on_error: str = "raise", report: ReadReport | None = None
) -> list[MathRecord]:
    """All MATH problems in a folder of either layout: `train.jsonl` + `test.jsonl`, or a release
    tree (`train/`, `test/`, possibly under `MATH/`)."""
    data_dir = pathlib.Path(data_dir)
    owned = report is None
    report = report or ReadReport(str(data_dir))
    jsonl = [data_dir / f"{s}.jsonl" for s in ("train", "test")]
    records = None
    if all(p.exists() for p in jsonl):
        records = [r for p in jsonl for r in read_math_jsonl(p, on_error, report)]
    for root in (data_dir, data_dir / "MATH"):
        if records is None and (root / "train").is_dir() and (root / "test").is_dir():
            records = read_math_tree(root, on_error, report)
    if records is not None:
        if owned:
            report.log()
        return records
    raise DataFormatError(
        f"{data_dir}: neither train.jsonl + test.jsonl nor a MATH release tree (train/, test/); "
        "set MATHFT_DATA_DIR"
    )


# --------------------------------------------------------------------------- PRM800K


@dataclasses.dataclass(frozen=True)
class PRMSample:
    """One sampled solution of PRM800K, rebuilt from its steps, with the problem's ground truth."""

    where: str
    problem: str
    ground_truth: str
    solution: str  # steps joined by newlines, the `# Answer` section as `\boxed{...}`
    answer: str | None
    finish_reason: str | None
    correct: bool | None = None  # None until labelled (`math_tasks.label_prm800k`)
    human_steps: int = 0  # steps a labeler wrote (phase 1 `human_completion`); the rest are GPT-4's


def _step_text(step: Any, where: str) -> tuple[str | None, bool, bool]:
    """(text of the step the solution continued with, whether the solution stops here, whether
    a labeler wrote it)."""
    if not isinstance(step, dict):
        raise DataFormatError(f"{where}: a label step is not an object")
    completions = step.get("completions") or []
    if not isinstance(completions, list) or not all(isinstance(c, dict) for c in completions):
        raise DataFormatError(f"{where}: completions must be a list of objects")
    chosen = step.get("chosen_completion")
    human = step.get("human_completion")
    if chosen is not None:
        if not isinstance(chosen, int) or not 0 <= chosen < len(completions):
            raise DataFormatError(
                f"{where}: chosen_completion {chosen!r} is not an index of its "
                f"{len(completions)} completions"
            )
        return completions[chosen].get("text"), False, False
    if human:
        return (human.get("text") if isinstance(human, dict) else str(human)), False, True
    # No choice: labelling stopped at this step (phase 1 `found_error` / `give_up`). The sample
    # ends with the completion the labeler rated -1 (the error found), else the first one.
    wrong = [c for c in completions if c.get("rating") == -1]
    last = (wrong or completions or [{}])[0]
    return last.get("text"), True, False


def normalise_answer_section(steps: list[str]) -> str:
    """Joins steps; a final `# Answer\\n\\nX` becomes `\\boxed{X}` (the one SSFT answer form)."""
    text = "\n".join(s.strip("\n") for s in steps if s)
    head, sep, tail = text.rpartition("# Answer")
    if not sep:
        return text
    answer = tail.strip().split("\n\n")[0].strip()
    if not answer:
        return head.rstrip()
    return f"{head.rstrip()}\n\n{prompts.boxed(answer)}" if head.strip() else prompts.boxed(answer)


def _prm_sample(obj: Any, where: str) -> PRMSample:
    if not isinstance(obj, dict) or not isinstance(obj.get("question"), dict):
        raise DataFormatError(f"{where}: expected an object with a 'question' object")
    question, label = obj["question"], obj.get("label")
    problem, truth = question.get("problem"), question.get("ground_truth_answer")
    if not isinstance(problem, str) or not isinstance(truth, str):
        raise DataFormatError(f"{where}: question.problem / question.ground_truth_answer missing")
    human_steps = 0
    if isinstance(question.get("pre_generated_steps"), list):  # phase 2: the whole sample
        steps = [str(s) for s in question["pre_generated_steps"]]
    else:
        if not isinstance(label, dict) or not isinstance(label.get("steps"), list):
            raise DataFormatError(f"{where}: label.steps missing (and no pre_generated_steps)")
        steps = []
        for i, step in enumerate(label["steps"]):
            text, stop, by_human = _step_text(step, f"{where} (step {i})")
            if text:
                steps.append(text)
                human_steps += by_human
            if stop:
                break
    finish = label.get("finish_reason") if isinstance(label, dict) else None
    solution = normalise_answer_section(steps)
    answer = extract_answer(solution)
    return PRMSample(where, problem, truth, solution, answer, finish, human_steps=human_steps)


def read_prm800k(
    path: str | os.PathLike,
    on_error: str = "raise",
    report: ReadReport | None = None,
) -> list[PRMSample]:
    """PRM800K phase 1/2 lines -> samples, not yet labelled (`math_tasks.label_prm800k`)."""
    path = pathlib.Path(path)
    report = report or ReadReport(str(path))
    out = []
    for where, obj in _json_lines(path, on_error, report):
        try:
            out.append(_prm_sample(obj, where))
        except DataFormatError as err:
            _bad(where, str(err).split(": ", 1)[1], on_error, report)
    report.read += len(out)
    report.missing_answer += [s.where for s in out if s.answer is None]
    report.log()
    return out
