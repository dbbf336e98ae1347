"""Problems -> candidates file: record layout, meta, batching independence and resume."""

import json

import decode_fakes as fakes
import numpy as np
import pytest

from mathft_jax import candidates
from mathft_jax.inference import generation, prompting
from mathft_jax.inference.decoding import DecodeConfig
from mathft_jax.inference.sampling import SamplingConfig

PROBLEMS = [fakes.Problem(f"p{i}", f"What is {i} + {i}?", str(2 * i)) for i in range(5)]


@pytest.fixture(scope="module")
def params():
    return fakes.init_params()


def run(params, path, problems=PROBLEMS, batch_size=2):
    return generation.decode_problems(
        problems,
        str(path),
        params=params,
        model=fakes.MODEL,
        vocab=fakes.ByteVocab(),
        prompt_fn=lambda p: f"Q: {p}\nA:",
        config=DecodeConfig(
            num_samples=3,
            max_decode_len=10,
            sampling=SamplingConfig(),
            include_greedy=True,
            batch_size=batch_size,
            max_prompt_len=24,
            seed=7,
        ),
        meta={"checkpoint": "ckpt"},
        extract_fn=fakes.extract_boxed,
    )


def read(path):
    return [json.loads(line) for line in open(path)]


def test_records_hold_ground_truth_greedy_samples_and_meta(params, tmp_path):
    assert run(params, tmp_path / "c.jsonl") == 5
    records = read(tmp_path / "c.jsonl")
    assert [r["unique_id"] for r in records] == [p.unique_id for p in PROBLEMS]
    first = records[0]
    assert first["answer"] == "0" and first["problem"] == PROBLEMS[0].problem
    assert isinstance(first["greedy"], str) and len(first["samples"]) == 3
    assert first["sample_answers"] == [fakes.extract_boxed(s) for s in first["samples"]]
    assert first["meta"] == {
        "seed": 7,
        "temperature": 0.6,
        "top_p": 0.95,
        "top_k": None,
        "num_samples": 3,
        "max_decode_len": 10,
        "max_prompt_len": 24,
        "checkpoint": "ckpt",
    }
    assert len(set(first["samples"])) > 1


def test_batch_size_does_not_change_the_file(params, tmp_path):
    run(params, tmp_path / "a.jsonl", batch_size=2)
    run(params, tmp_path / "b.jsonl", batch_size=4)
    assert read(tmp_path / "a.jsonl") == read(tmp_path / "b.jsonl")


def test_resume_skips_written_problems_and_drops_a_torn_line(params, tmp_path):
    full = tmp_path / "full.jsonl"
    run(params, full)
    lines = open(full).read().splitlines(keepends=True)
    part = tmp_path / "part.jsonl"
    part.write_text(lines[0] + lines[1] + lines[2][:17])  # crash in the middle of the third
    assert candidates.read_done_ids(str(part)) == {"p0", "p1"}
    assert part.read_text() == lines[0] + lines[1]
    assert run(params, part) == 3
    assert part.read_text() == "".join(lines)
    assert run(params, part) == 0  # all done: nothing decoded again


def test_encode_prompts_left_pads_and_keeps_the_tail():
    tokens, segs, truncated = generation.encode_prompts(fakes.ByteVocab(), ["ab", "abcdef"], 5)
    assert tokens.tolist() == [[0, 0, 0, 100, 101], [101, 102, 103, 104, 105]]
    assert segs.tolist() == [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]]
    assert truncated == 1


def test_decode_texts_strips_eos_and_cuts_at_stop():
    vocab = fakes.ByteVocab()
    ids = np.asarray([vocab.encode("x=1\n\nProblem: y") + [1, 0]])
    assert generation.decode_texts(ids, [len(ids[0]) - 1], vocab, 1) == ["x=1\n\nProblem: y"]
    cut = generation.decode_texts(ids, [len(ids[0]) - 1], vocab, 1, (prompting.KSHOT_STOP,))
    assert cut == ["x=1"]


def test_kshot_prompt_layout_and_example_choice():
    # Minerva's MATH prompt (Lewkowycz et al. 2022, App. D): the solution, then a final-answer line.
    prompt = prompting.kshot_prompt("1+1?", [("u", "2+2?", "$\\boxed{4}$", "4")])
    assert prompt == (
        "Problem:\n2+2?\n\nSolution:\n$\\boxed{4}$\n"
        "Final Answer: The final answer is $4$. I hope it is correct.\n\n"
        "Problem:\n1+1?\n\nSolution:\n"
    )
    pool = [(f"id{i}", f"q{i}", f"\\boxed{{{i}}}", str(i)) for i in range(10)]
    pool.append(("idl", "long", "\\boxed{1}" + "x" * 700, "1"))
    picked = prompting.pick_kshot_examples(pool, 4, seed=3)
    assert picked == prompting.pick_kshot_examples(pool, 4, seed=3) and len(set(picked)) == 4
    assert pool[-1] not in picked
    with pytest.raises(ValueError, match="k-shot needs k=11"):
        prompting.pick_kshot_examples(pool, 11)
    with pytest.raises(ValueError, match="build_prompt_fn.style"):
        prompting.build_prompt_fn(style="zero")
    assert prompting.build_prompt_fn(style="ssft")[2] == {"prompt_style": "ssft"}


def test_kshot_prompt_from_math_train(math_data_dir):
    pytest.importorskip("mathft_jax.data.problems")
    from mathft_jax.data import problems

    prompt_fn, stops, meta = prompting.build_prompt_fn(style="kshot", k=4)
    prompt = prompt_fn("What is 1+1?")
    assert prompt.count("Problem:\n") == 5 and prompt.endswith("What is 1+1?\n\nSolution:\n")
    assert prompt.count(". I hope it is correct.\n\nProblem:\n") == 4
    assert stops == (prompting.KSHOT_STOP,)
    train = {p.unique_id: p for p in problems.load_problems("math", "train")}
    assert meta["prompt_style"] == "kshot" and meta["prompt_format"] == "minerva"
    assert meta["kshot_k"] == 4 and len(meta["kshot_ids"]) == 4
    for uid in meta["kshot_ids"]:  # the recorded shots are the prompt's, from MATH train
        shot = train[uid]
        assert prompting.minerva_solution(shot.solution, shot.answer) in prompt
