"""Decode, score and the greedy Pass@1 hook as a real 2-process JAX job (2 x 2 fake CPU devices,
gloo over loopback, through launch/local.sh) against one process with the same 4 devices: the
outputs are gathered to every process, only process 0 writes OUTPUT, and the files are the same."""

import json
import os
import pathlib
import sys

import pytest
from subprocess_group import free_port, run_in_group
from test_cli import TINY, save_random_model

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]


def local_sh(processes: int, args: list[str], log_dir: pathlib.Path, timeout: float = 300) -> str:
    """launch/local.sh with `processes` x (4 / processes) fake CPU devices; returns its stderr."""
    cmd = ["bash", str(REPO / "launch" / "local.sh"), "--num_processes", str(processes)]
    cmd += ["--devices_per_process", str(4 // processes), "--port", str(free_port())]
    cmd += ["--python", sys.executable, "--log_dir", str(log_dir), *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MATHFT_", "PYTHON"))}
    env["PYTHONPATH"] = f"{HERE}{os.pathsep}{REPO}"
    done = run_in_group(cmd, timeout, cwd=REPO, env=env)
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("multihost") / "model"
    save_random_model(path)
    return path


@pytest.mark.slow
def test_decode_on_two_processes_writes_what_one_process_writes(tmp_path, model_dir):
    single, multi = tmp_path / "single.jsonl", tmp_path / "multi.jsonl"

    def decode(processes: int, output: pathlib.Path) -> None:
        args = ["--stage", "decode", "--gin_file", TINY, "--gin_file", "gin/decode.gin"]
        args += [f"--gin.CHECKPOINT_PATH={model_dir}", f"--gin.OUTPUT={output}"]
        args += ["--gin.NUM_SAMPLES=2", "--gin.run_decode.source='synth'"]
        args += ["--gin.run_decode.num_problems=3", "--gin.run_decode.batch_size=4"]
        args += ["--gin.run_decode.max_prompt_len=64", "--gin.run_decode.max_decode_len=8"]
        local_sh(processes, args, tmp_path / output.stem)

    decode(1, single)
    lines = single.read_text().splitlines(keepends=True)
    assert len(lines) == 3 and all(len(json.loads(x)["samples"]) == 2 for x in lines)
    # Resumed on two processes: process 0 drops the torn line and tells process 1 what is done.
    multi.write_text(lines[0] + lines[1][:20])
    decode(2, multi)
    assert multi.read_text() == single.read_text()  # each record once: process 1 wrote nothing


@pytest.mark.slow
def test_score_on_two_processes_writes_what_one_process_writes(tmp_path, model_dir):
    candidates = tmp_path / "candidates.jsonl"
    rows = [
        {"unique_id": f"p{i}", "problem": f"What is {i} + {i}?", "answer": str(2 * i),
         "samples": [f"It is \\boxed{{{2 * i + j}}}." for j in range(i + 1)]}
        for i in range(3)
    ]  # fmt: skip
    candidates.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def score(processes: int, output: pathlib.Path) -> None:
        args = ["--stage", "score", "--gin_file", TINY, "--gin_file", "gin/score.gin"]
        args += [f"--gin.CHECKPOINT_PATH={model_dir}", f"--gin.CANDIDATES={candidates}"]
        args += [f"--gin.OUTPUT={output}", "--gin.run_score.batch_size=4"]
        args += ["--gin.run_score.max_len=96"]
        local_sh(processes, args, tmp_path / output.stem)

    single, multi = tmp_path / "single.jsonl", tmp_path / "multi.jsonl"
    score(1, single)
    records = [json.loads(line) for line in single.read_text().splitlines()]
    assert [len(r["verifier_scores"]) for r in records] == [1, 2, 3]
    score(2, multi)
    assert multi.read_text() == single.read_text()


def _json_line(text: str) -> dict:
    return json.loads(next(line for line in text.splitlines() if line.startswith("{")))


@pytest.mark.slow
def test_generate_and_greedy_hook_on_two_processes_match_one(tmp_path):
    """`generate` with a sharded batch and with replicated prompts, and the greedy Pass@1 hook
    given params sharded over both processes' devices (as the trainer calls it)."""
    # One process: local.sh execs it, so its line is in local.sh's output; two: one log each.
    single = _json_line(local_sh(1, ["--module", "multihost_probe"], tmp_path / "one"))
    assert (single["processes"], single["devices"]) == (1, 4)
    assert single["pass_at_1"] == {
        "sharded": pytest.approx(2 / 3),
        "replicated": pytest.approx(2 / 3),
    }
    local_sh(2, ["--module", "multihost_probe"], tmp_path / "two")
    for i in range(2):
        got = _json_line((tmp_path / "two" / f"process_{i}.log").read_text())
        assert (got["process"], got["processes"], got["devices"]) == (i, 2, 4)
        assert got["texts"] == single["texts"]
        assert got["pass_at_1"] == single["pass_at_1"]
