"""gs:// OUTPUT, CANDIDATES and MODEL_DIR files through etils.epath, against a fake bucket: epath's
gs:// backend is swapped for one that keeps `gs://bucket/...` under a local folder (no network
here), so the code under test takes exactly the URL path it takes on a real bucket."""

import json

import decode_fakes as fakes
import pytest

from mathft_jax import candidates, paths_io
from mathft_jax.inference import generation, scoring
from mathft_jax.inference.decoding import DecodeConfig
from mathft_jax.inference.sampling import SamplingConfig

PROBLEMS = [fakes.Problem(f"p{i}", f"What is {i} + {i}?", str(2 * i)) for i in range(3)]


@pytest.fixture(scope="module")
def params():
    return fakes.init_params()


def decode(params, path):
    return generation.decode_problems(
        PROBLEMS,
        path,
        params=params,
        model=fakes.MODEL,
        vocab=fakes.ByteVocab(),
        prompt_fn=lambda p: f"Q: {p}\nA:",
        config=DecodeConfig(
            num_samples=2,
            max_decode_len=8,
            sampling=SamplingConfig(),
            include_greedy=True,
            batch_size=2,
            max_prompt_len=24,
            seed=7,
        ),
        extract_fn=fakes.extract_boxed,
    )


def test_fake_bucket_keeps_objects_under_its_folder(bucket, tmp_path):
    paths_io.write_json("gs://bucket/runs/ssft/run_info.json", {"stage": "ssft"})
    assert json.loads((bucket / "bucket/runs/ssft/run_info.json").read_text()) == {"stage": "ssft"}
    assert paths_io.read_json("gs://bucket/runs/ssft/run_info.json") == {"stage": "ssft"}
    assert not (tmp_path / "gs:").exists()  # never the local path os.path made of the URL


def test_decode_to_gs_then_resume_after_a_torn_line(params, bucket, tmp_path):
    url = "gs://bucket/runs/decode/candidates.jsonl"
    assert decode(params, url) == 3
    local = bucket / "bucket/runs/decode/candidates.jsonl"
    lines = local.read_text().splitlines(keepends=True)
    assert [json.loads(x)["unique_id"] for x in lines] == ["p0", "p1", "p2"]
    assert decode(params, str(tmp_path / "local.jsonl")) == 3  # a local OUTPUT: the same records
    assert (tmp_path / "local.jsonl").read_text() == "".join(lines)

    local.write_text(lines[0] + lines[1][:15])  # a run cut off mid-line
    assert candidates.read_done_ids(url) == {"p0"}
    assert local.read_text() == lines[0]  # the torn line is gone (object rewritten)
    assert decode(params, url) == 2
    assert local.read_text() == "".join(lines)


def test_score_gs_candidates_into_gs_output(params, bucket):
    decode(params, "gs://bucket/c.jsonl")
    written = scoring.score_candidates(
        "gs://bucket/c.jsonl",
        "gs://bucket/scored/s.jsonl",
        params=params,
        model=fakes.MODEL,
        vocab=fakes.ByteVocab(),
        prompt_fn=lambda p, s: f"P: {p}\nS: {s}\nThe above is ",
        batch_size=4,
        max_len=48,
    )
    assert written == 3
    scored = [json.loads(x) for x in (bucket / "bucket/scored/s.jsonl").read_text().splitlines()]
    assert [len(r["verifier_scores"]) for r in scored] == [2, 2, 2]
