"""Task registry: built-in names, MATH/PRM800K tasks, verifier tasks from a candidates file."""

import json
import pathlib
import subprocess
import sys

import pytest

from mathft_jax.data import math_tasks, pipeline, problems, prompts, registry, tasks

BUILT_IN = {
    "math_ssft_human", "math_ssft_prm800k", "math_ssft_mix", "math_verifier_xent",
    "math_verifier_pairs", "math_contrastive_pairs", "math500_eval", "synth_ssft", "synth_eval",
    "synth_verifier_xent", "synth_verifier_pairs", "synth_contrastive_pairs",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _builtin_tasks():
    tasks.register_builtin_tasks()


def test_importing_data_registers_nothing_and_registration_is_idempotent():
    code = (
        "from mathft_jax.data import math_tasks, pipeline, pool_tasks, problems, registry, tasks\n"
        "assert registry.task_names() == [], registry.task_names()\n"
        "first = tasks.register_builtin_tasks()\n"
        "assert tasks.register_builtin_tasks() == first == registry.task_names()\n"
        "print(len(first))\n"
    )
    repo = pathlib.Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=repo
    )
    assert int(out.stdout) == len(BUILT_IN)


def test_built_in_tasks_are_registered():
    assert BUILT_IN <= set(tasks.register_builtin_tasks())
    with pytest.raises(ValueError, match="splits"):
        registry.get_task("math500_eval").examples("train")


def test_synth_verifier_tasks_label_and_pair_correctly():
    xent = registry.get_task("synth_verifier_xent").examples("validation")
    assert {ex["targets"] for ex in xent} == {"correct", "incorrect"}
    pair = registry.get_task("synth_verifier_pairs").examples("validation")[0]
    assert pair["pos_inputs"].startswith("Here is a math problem: ")
    assert pair["pos_inputs"] != pair["neg_inputs"] and pair["pos_targets"] == "correct"
    assert pair["gen_inputs"] == prompts.ssft_prompt(pair["gen_inputs"][9:-11])
    assert pair["pos_inputs"].split("candidate solution: ")[1].startswith(pair["gen_targets"])


def _candidates(path, n_problems=40):
    with open(path, "w") as f:
        for i in range(n_problems):
            samples = [
                f"s{i}a \\boxed{{{i}}}",
                f"s{i}b \\boxed{{{i}}}",
                f"s{i}c \\boxed{{{i + 1}}}",
            ]
            row = {"unique_id": f"p{i}", "problem": f"P{i}", "answer": str(i), "samples": samples,
                   "reference": f"ref{i} \\boxed{{{i}}}"}  # fmt: skip
            f.write(json.dumps(row) + "\n")


def test_register_verifier_tasks_from_candidates(tmp_path):
    _candidates(tmp_path / "c.jsonl")
    names = math_tasks.register_verifier_tasks(
        "tst", str(tmp_path / "c.jsonl"), max_per_problem=1, max_pairs_per_problem=2
    )
    assert names == ["tst_verifier_xent", "tst_verifier_pairs", "tst_contrastive_pairs"]
    train, val = (
        registry.get_task("tst_verifier_xent").examples(s) for s in ("train", "validation")
    )
    assert 0 < len(val) < len(train) and len(train) + len(val) == 80  # cap 1 per label per problem
    pairs = registry.get_task("tst_verifier_pairs").examples("train")
    assert all("c \\boxed" in p["neg_inputs"] and "c \\boxed" not in p["pos_inputs"] for p in pairs)
    contrastive = registry.get_task("tst_contrastive_pairs").examples("train")
    assert contrastive[0]["pos_inputs"] == contrastive[0]["neg_inputs"]
    assert len(contrastive) == len(pairs) == 2 * len(train) // 2
    # L_mle's group carries the problem's reference solution, not a sampled one.
    for p in pairs + contrastive:
        i = p["gen_targets"].split()[0].removeprefix("ref")
        assert p["gen_inputs"] == prompts.ssft_prompt(f"P{i}")
        assert p["gen_targets"] == f"ref{i} \\boxed{{{i}}}"
    batch = next(
        pipeline.batch_iterator("tst_verifier_pairs", "train", 4, {"inputs": 64, "targets": 16})
    )
    assert set(batch) == {"pos", "neg", "gen"}
    with pytest.raises(FileNotFoundError, match="candidates_path"):
        math_tasks.register_verifier_tasks("tst", str(tmp_path / "missing.jsonl"))


def test_pool_labels_split_correct_and_incorrect(tmp_path):
    row = {
        "unique_id": "u1",
        "problem": "P",
        "answer": "\\frac{1}{2}",
        "samples": ["so \\boxed{0.5}", "so \\boxed{1/2}", "so \\boxed{2}", "so \\boxed{2}", "none"],
    }
    (tmp_path / "c.jsonl").write_text(json.dumps(row) + "\n")
    (labelled,) = math_tasks.labelled_candidates(tmp_path / "c.jsonl", workers=1)
    assert labelled.correct == ("so \\boxed{0.5}", "so \\boxed{1/2}")
    assert labelled.incorrect == ("so \\boxed{2}", "none")  # duplicates removed, no answer = wrong


def test_pool_labels_extract_where_the_recorded_answer_is_null(tmp_path):
    row = {
        "unique_id": "u1",
        "problem": "P",
        "answer": "3",
        "samples": ["so \\boxed{3}", "so \\boxed{3.0}", "so \\boxed{4}"],
        "sample_answers": [None, "3", "3"],  # a null is extracted; a recorded string wins
    }
    (tmp_path / "c.jsonl").write_text(json.dumps(row) + "\n")
    (labelled,) = math_tasks.labelled_candidates(tmp_path / "c.jsonl", workers=1)
    assert labelled.correct == ("so \\boxed{3}", "so \\boxed{3.0}", "so \\boxed{4}")
    assert labelled.incorrect == ()


def test_prm800k_tasks_need_a_location(monkeypatch):
    monkeypatch.delenv("MATHFT_PRM800K_DIR", raising=False)
    with pytest.raises(ValueError, match="MATHFT_PRM800K_DIR"):
        registry.get_task("math_ssft_prm800k").examples("train")


def test_prm800k_tasks_follow_the_lightman_split(tmp_path, monkeypatch, math_data_dir):
    monkeypatch.setenv("MATHFT_DATA_DIR", str(math_data_dir))
    train, val, test = (
        problems.load_problems("math", s)[0] for s in ("train", "validation", "test")
    )
    lines = []
    for problem, answer in (
        (train.problem, "2"),
        (val.problem, "3"),
        (test.problem, "x"),
        ("?", "1"),
    ):
        for final in (answer, "wrong"):
            lines.append(
                {
                    "question": {"problem": problem, "ground_truth_answer": answer},
                    "label": {
                        "steps": [
                            {
                                "completions": [{"text": f"# Answer\n\n{final}"}],
                                "chosen_completion": 0,
                            }
                        ],
                        "finish_reason": "solution",
                    },
                }
            )
    # Labelling stopped at an error before any answer: not a whole solution, so no verifier example.
    unfinished_step = {"completions": [{"text": "1+1=3.", "rating": -1}], "chosen_completion": None}
    lines.append(
        {
            "question": {"problem": train.problem, "ground_truth_answer": "2"},
            "label": {"steps": [unfinished_step], "finish_reason": "found_error"},
        }
    )
    (tmp_path / "phase1_train.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    monkeypatch.setenv("MATHFT_PRM800K_DIR", str(tmp_path))
    ssft = registry.get_task("math_ssft_prm800k").examples("train")
    assert ssft == [{"inputs": prompts.ssft_prompt(train.problem), "targets": "\\boxed{2}"}]
    val_ssft = registry.get_task("math_ssft_prm800k").examples("validation")
    assert val_ssft == [{"inputs": prompts.ssft_prompt(val.problem), "targets": "\\boxed{3}"}]
    xent = registry.get_task("math_verifier_xent").examples("train")
    # Only the train problem's two samples: MATH-500 and unmatched problems are left out.
    assert sorted(x["targets"] for x in xent) == ["correct", "incorrect"]
    assert all(train.problem in x["inputs"] for x in xent)


def test_pool_reference_solutions_come_from_the_rows_problem_source(tmp_path):
    # A pool written by the decode job names its source and split in meta; the pair tasks' gen
    # group (L_mle of Eq. 11 / 13) is then the problem's reference solution from that source.
    (p,) = problems.load_problems("synth", "validation", num_examples=None)[:1]
    row = {"unique_id": p.unique_id, "problem": p.problem, "answer": p.answer,
           "samples": [f"x \\boxed{{{p.answer}}}", "y \\boxed{-1}"],
           "meta": {"source": "synth", "split": "validation"}}  # fmt: skip
    (tmp_path / "c.jsonl").write_text(json.dumps(row) + "\n")
    (labelled,) = math_tasks.labelled_candidates(tmp_path / "c.jsonl", workers=1)
    assert labelled.reference == p.solution
    math_tasks.register_verifier_tasks("ref", str(tmp_path / "c.jsonl"), validation_percent=0)
    for name in ("ref_verifier_pairs", "ref_contrastive_pairs"):
        (ex,) = registry.get_task(name).examples("train")
        assert ex["gen_targets"] == p.solution and ex["gen_inputs"] == prompts.ssft_prompt(
            p.problem
        )


def test_synth_pair_tasks_carry_the_reference_solution():
    refs = {p.problem: p.solution for p in problems.load_problems("synth", "validation")}
    for name in ("synth_verifier_pairs", "synth_contrastive_pairs"):
        for ex in registry.get_task(name).examples("validation")[:20]:
            problem = ex["gen_inputs"][len("Problem: ") : -len("\nSolution: ")]
            assert ex["gen_targets"] == refs[problem]
