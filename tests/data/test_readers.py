"""Readers: MATH in both layouts, bad lines, PRM800K phase 1/2 rebuilding and grading, pools."""

import json

import pytest

from mathft_jax.data import math_tasks, readers

PROBLEM = {"problem": "What is $1+1$?", "level": "Level 1", "type": "Algebra"}


def _write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def _math_rows(split):
    return [
        {"unique_id": f"{split}/algebra/{n}.json", **PROBLEM, "solution": f"So $\\boxed{{{n}}}$."}
        for n in (2, 10)
    ]


def test_jsonl_and_release_tree_give_the_same_records(tmp_path):
    flat, tree = tmp_path / "flat", tmp_path / "tree" / "MATH"
    flat.mkdir()
    for split in ("train", "test"):
        _write_jsonl(flat / f"{split}.jsonl", _math_rows(split))
        for row in _math_rows(split):
            file = tree / row["unique_id"]
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(json.dumps({k: v for k, v in row.items() if k != "unique_id"}))
    from_flat = readers.read_math(flat)
    from_tree = readers.read_math(tmp_path / "tree")
    assert from_flat == from_tree
    assert [r.answer for r in from_flat] == [
        "2",
        "10",
        "2",
        "10",
    ]  # numeric file order: 2 before 10


def test_answer_is_the_last_boxed_with_nesting_fbox_and_bare_forms(tmp_path):
    solutions = [
        "First $\\boxed{1}$, then $\\boxed{\\frac{1}{2}}$.",
        "Hence \\fbox{7}.",
        "The answer is $\\boxed 5$.",
        "No final answer here.",
    ]
    rows = [{"unique_id": f"t/{i}", **PROBLEM, "solution": s} for i, s in enumerate(solutions)]
    _write_jsonl(tmp_path / "m.jsonl", rows)
    report = readers.ReadReport("m")
    records = readers.read_math_jsonl(tmp_path / "m.jsonl", report=report)
    assert [r.answer for r in records] == ["\\frac{1}{2}", "7", "5", None]
    assert report.missing_answer == ["t/3"]


def test_bad_line_names_file_and_line_or_is_skipped_and_counted(tmp_path):
    rows = _math_rows("train")
    _write_jsonl(tmp_path / "m.jsonl", [rows[0], "{not json", {"unique_id": "x", "problem": 1}])
    with pytest.raises(readers.DataFormatError, match=r"m\.jsonl:2: invalid JSON"):
        readers.read_math_jsonl(tmp_path / "m.jsonl")
    report = readers.ReadReport("m")
    records = readers.read_math_jsonl(tmp_path / "m.jsonl", on_error="skip", report=report)
    assert len(records) == 1 and len(report.skipped) == 2
    assert ":3: missing or non-string fields" in report.skipped[1]
    with pytest.raises(readers.DataFormatError, match="neither train.jsonl"):
        readers.read_math(tmp_path / "nowhere")


def _phase1_line(steps, finish="solution", truth="2"):
    return {
        "question": {"problem": "What is $1+1$?", "ground_truth_answer": truth},
        "label": {"steps": steps, "finish_reason": finish},
    }


def _step(*texts, chosen=0, human=None):
    return {
        "completions": [{"text": t, "rating": 1} for t in texts],
        "chosen_completion": chosen,
        "human_completion": human,
    }


def test_prm800k_rebuilds_chosen_and_human_steps_and_grades(tmp_path):
    lines = [
        # phase 1: alternative completions, the chosen one is the second
        _phase1_line([_step("Add.", "We add.", chosen=1), _step("$1+1=2$.\n\n# Answer\n\n2")]),
        # phase 1: a human-written step replaces the rejected completions
        _phase1_line(
            [
                _step("Hmm.", chosen=None, human={"text": "It is $2$.", "rating": 1}),
                _step("# Answer\n\n2.0"),
            ]
        ),
        # labelling stopped at an error: the sample ends at that step's completion
        _phase1_line([_step("1+1=3.", chosen=None), _step("# Answer\n\n3")], "found_error"),
        # phase 2: the whole pre-generated sample, even past the first labelled error
        {
            "question": {
                "problem": "What is $1+1$?",
                "ground_truth_answer": "2",
                "pre_generated_steps": ["It is 3.", "# Answer\n\n3"],
                "pre_generated_answer": "3",
            },
            "label": {"steps": [_step("It is 3.")], "finish_reason": "found_error"},
        },
    ]
    _write_jsonl(tmp_path / "phase1_train.jsonl", lines)
    samples = math_tasks.label_prm800k(
        readers.read_prm800k(tmp_path / "phase1_train.jsonl"), workers=1
    )
    assert samples[0].solution == "We add.\n$1+1=2$.\n\n\\boxed{2}"
    assert samples[1].solution.startswith("It is $2$.") and samples[1].answer == "2.0"
    assert samples[2].solution == "1+1=3." and samples[2].answer is None
    assert samples[3].solution == "It is 3.\n\n\\boxed{3}"
    assert [s.correct for s in samples] == [True, True, False, False]


def test_prm800k_bad_line_names_file_and_line(tmp_path):
    _write_jsonl(tmp_path / "p.jsonl", [_phase1_line([_step("x")]), {"question": {"problem": 1}}])
    with pytest.raises(readers.DataFormatError, match=r"p\.jsonl:2: question.problem"):
        readers.read_prm800k(tmp_path / "p.jsonl")


def test_prm800k_unchosen_last_step_is_the_rated_error(tmp_path):
    steps = [
        _step("Add."),
        {
            "completions": [
                {"text": "# Answer\n\n2", "rating": 1},
                {"text": "# Answer\n\n3", "rating": -1},
            ],
            "chosen_completion": None,
            "human_completion": None,
        },
    ]
    _write_jsonl(tmp_path / "p.jsonl", [_phase1_line(steps, "found_error")])
    (sample,) = math_tasks.label_prm800k(readers.read_prm800k(tmp_path / "p.jsonl"), workers=1)
    assert sample.answer == "3" and not sample.correct


@pytest.mark.parametrize(
    "step, message",
    [
        (
            {"completions": ["text"], "chosen_completion": 0},
            "completions must be a list of objects",
        ),
        ({"completions": [{"text": "a"}], "chosen_completion": 3}, "chosen_completion 3 is not"),
    ],
)
def test_prm800k_bad_steps_name_file_and_line(tmp_path, step, message):
    _write_jsonl(tmp_path / "p.jsonl", [_phase1_line([step])])
    with pytest.raises(readers.DataFormatError, match=rf"p\.jsonl:1: {message}"):
        readers.read_prm800k(tmp_path / "p.jsonl")


def test_bad_math_lines_stop_the_job_or_are_skipped_by_env(tmp_path, monkeypatch):
    from mathft_jax.data import problems

    train = [
        {"unique_id": f"train/algebra/{n}.json", **PROBLEM, "solution": f"$\\boxed{{{n}}}$"}
        for n in range(510)  # the Lightman split carves 500 validation problems
    ]
    _write_jsonl(tmp_path / "train.jsonl", [*train[:2], "{torn", *train[2:]])
    _write_jsonl(tmp_path / "test.jsonl", _math_rows("test"))
    (tmp_path / "math500_ids.txt").write_text("test/algebra/2.json\n")
    problems.math_split_records.cache_clear()
    monkeypatch.delenv("MATHFT_ON_BAD_INPUT", raising=False)
    with pytest.raises(readers.DataFormatError, match=r"train\.jsonl:3: invalid JSON"):
        problems.load_problems("math", "test", data_dir=str(tmp_path))
    problems.math_split_records.cache_clear()
    monkeypatch.setenv("MATHFT_ON_BAD_INPUT", "skip")
    (test,) = problems.load_problems("math", "test", data_dir=str(tmp_path))
    assert test.unique_id == "test/algebra/2.json"
    problems.math_split_records.cache_clear()
    monkeypatch.setenv("MATHFT_ON_BAD_INPUT", "ignore")
    with pytest.raises(ValueError, match="MATHFT_ON_BAD_INPUT='ignore'"):
        problems.load_problems("math", "test", data_dir=str(tmp_path))
    problems.math_split_records.cache_clear()


def test_a_byte_that_is_not_utf8_names_file_line_and_is_skipped_by_env(tmp_path, monkeypatch):
    from mathft_jax.data import problems

    train = [
        {"unique_id": f"train/algebra/{n}.json", **PROBLEM, "solution": f"$\\boxed{{{n}}}$"}
        for n in range(510)
    ]
    _write_jsonl(tmp_path / "train.jsonl", train)
    good = (tmp_path / "train.jsonl").read_bytes().splitlines(keepends=True)
    bad = good[2].replace(b"What", b"Wh\xe9t")  # latin-1, not UTF-8
    (tmp_path / "train.jsonl").write_bytes(b"".join([*good[:2], bad, *good[3:]]))
    _write_jsonl(tmp_path / "test.jsonl", _math_rows("test"))
    (tmp_path / "math500_ids.txt").write_text("test/algebra/2.json\n")
    column = bad.index(b"\xe9") + 1
    problems.math_split_records.cache_clear()
    monkeypatch.delenv("MATHFT_ON_BAD_INPUT", raising=False)
    expected = rf"train\.jsonl:3: not UTF-8 \(byte 0xe9 at column {column}\)"
    with pytest.raises(readers.DataFormatError, match=expected):
        problems.load_problems("math", "test", data_dir=str(tmp_path))
    problems.math_split_records.cache_clear()
    monkeypatch.setenv("MATHFT_ON_BAD_INPUT", "skip")
    report = readers.ReadReport("t")
    records = readers.read_math_jsonl(tmp_path / "train.jsonl", "skip", report)
    assert len(records) == 509 and len(report.skipped) == 1
    assert "train.jsonl:3: not UTF-8" in report.skipped[0]
    (test,) = problems.load_problems("math", "test", data_dir=str(tmp_path))
    assert test.unique_id == "test/algebra/2.json"
    problems.math_split_records.cache_clear()


def test_invalid_json_message_reads_at_column_once(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"problem": "x\n')  # json: "Invalid control character at"
    with pytest.raises(readers.DataFormatError) as err:
        readers.read_math_jsonl(path)
    assert f"{path}:1: invalid JSON (Invalid control character at column 15)" in str(err.value)
