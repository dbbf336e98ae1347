"""Candidates files: round trip, and errors that name the file, the line and what was expected."""

import json

import pytest

from mathft_jax.evaluation.candidates import (
    Candidates,
    CandidatesFormatError,
    read_candidates,
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
    path = tmp_path / "c.jsonl"
    write_candidates(path, [row, row])
    assert read_candidates(path) == [row, row]


@pytest.mark.parametrize(
    "bad, expected",
    [
        ("{not json", "not valid JSON"),
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


def test_empty_file_is_an_error(tmp_path):
    path = _write(tmp_path / "empty.jsonl", [""])
    with pytest.raises(CandidatesFormatError, match="no candidate rows"):
        read_candidates(path)
