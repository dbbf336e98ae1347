"""Candidates files: round trip, and errors that name the file, the line and what was expected."""

import dataclasses
import json

import pytest

from mathft_jax.candidates import (
    Candidates,
    CandidatesFormatError,
    format_line,
    label_samples,
    open_append,
    read_candidates,
    read_done_ids,
    sample_answers,
    write_candidates,
)

GOOD = {"unique_id": "test/a/1.json", "problem": "1+1?", "answer": "2", "samples": ["\\boxed{2}"]}


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_round_trip_keeps_optional_and_extra_keys(tmp_path):
    row = Candidates(
        unique_id="u",
        problem="p",
        answer="2",
        samples=("a", "b"),
        greedy="g",
        sample_answers=("2", None),
        verifier_scores=(0.5, -1.0),
        meta={"seed": 3},
        extra={"source": {"repo": "x"}},
    )
    other = dataclasses.replace(row, unique_id="v")  # one line per unique_id
    path = tmp_path / "c.jsonl"
    write_candidates(path, [row, other])
    assert read_candidates(path) == [row, other]


@pytest.mark.parametrize(
    "bad, expected",
    [
        ("{not json", "not valid JSON"),
        ('{"unique_id": "u', "not valid JSON (Invalid control character at column 17)"),
        (json.dumps([1, 2]), "expected a JSON object"),
        (json.dumps({**GOOD, "samples": "x"}), "'samples' must be a list of strings"),
        (
            json.dumps({k: v for k, v in GOOD.items() if k != "answer"}),
            "missing required key 'answer'",
        ),
        (json.dumps({**GOOD, "unique_id": None}), "'unique_id'"),
        (json.dumps({**GOOD, "sample_answers": ["2", "3"]}), "has 2 entries, expected 1"),
        (json.dumps({**GOOD, "verifier_scores": [float("nan")]}), "finite numbers"),
        (json.dumps({**GOOD, "verifier_scores": [True]}), "finite numbers"),
        (json.dumps({**GOOD, "meta": [1]}), "'meta' must be an object"),
        (json.dumps({**GOOD, "answer": 2}), "'answer' must be a string"),
    ],
)
def test_bad_line_names_file_and_line(tmp_path, bad, expected):
    path = _write(tmp_path / "bad.jsonl", [json.dumps(GOOD), "", bad])
    with pytest.raises(CandidatesFormatError) as err:
        read_candidates(path)
    message = str(err.value)
    assert f"{path}:3:" in message
    assert expected in message


def test_a_byte_that_is_not_utf8_is_named_with_file_line_and_column(tmp_path):
    path = tmp_path / "c.jsonl"
    bad = json.dumps({**GOOD, "unique_id": "v"}).encode().replace(b"1+1", b"1\xff1")
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + bad + b"\n")
    column = bad.index(b"\xff") + 1
    with pytest.raises(
        CandidatesFormatError, match=rf"{path}:2: not UTF-8 \(byte 0xff at column {column}\)"
    ):
        read_candidates(path)
    with pytest.raises(CandidatesFormatError, match=rf"{path}:2: not UTF-8 \(byte 0xff"):
        read_done_ids(path)


def test_duplicate_unique_ids_are_refused_naming_ids_and_lines(tmp_path):
    other = json.dumps({**GOOD, "unique_id": "v"})
    path = _write(tmp_path / "c.jsonl", [json.dumps(GOOD), other, "", json.dumps(GOOD), other])
    with pytest.raises(CandidatesFormatError) as err:
        read_candidates(path)
    assert "2 unique_id(s) on more than one line" in str(err.value)
    assert "'test/a/1.json' on lines [1, 4]; 'v' on lines [2, 5]" in str(err.value)
    assert len(read_candidates(path, unique=False)) == 4


def test_empty_file_is_an_error(tmp_path):
    path = _write(tmp_path / "empty.jsonl", [""])
    with pytest.raises(CandidatesFormatError, match="no candidate rows"):
        read_candidates(path)


def test_done_ids_cut_a_torn_last_line_and_name_a_bad_middle_line(tmp_path):
    path = _write(tmp_path / "c.jsonl", [json.dumps(GOOD), json.dumps({**GOOD, "unique_id": "v"})])
    whole = path.read_text()
    path.write_text(whole + '{"unique_id": "w", "prob')  # a crash mid-write
    assert read_done_ids(path) == {"test/a/1.json", "v"}
    assert path.read_text() == whole
    with open_append(path) as out:
        out.write(format_line(Candidates("w", "p", "1", ("s",))))
    assert [r.unique_id for r in read_candidates(path)] == ["test/a/1.json", "v", "w"]
    path.write_text(json.dumps(GOOD) + "\n[1]\n" + json.dumps(GOOD) + "\n")
    with pytest.raises(CandidatesFormatError, match=rf"{path}:2: not a candidates record"):
        read_done_ids(path)
    assert read_done_ids(tmp_path / "absent.jsonl") == set()


def test_sample_answers_and_labels_follow_the_recorded_answer_first_rule():
    row = Candidates(
        "u",
        "p",
        "\\frac12",
        samples=("so \\boxed{0.5}", "so \\boxed{3}", "no answer", "\\boxed{ }"),
        sample_answers=(None, "1/2", None, None),
    )
    assert sample_answers(row) == ["0.5", "1/2", None, None]
    assert sample_answers(row, reextract=True) == ["0.5", "3", None, None]
    assert label_samples([row], workers=1) == [(True, True, False, False)]
