"""`python -m mathft_jax.decode` then `python -m mathft_jax.score` end to end on a tiny random model
saved through the trainer's checkpoint module (in-process, so the test pays for one TF import)."""

import json
import pathlib
import types

import gin
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mathft_jax import decode, score
from mathft_jax.data import prompts
from mathft_jax.inference import scoring
from mathft_jax.models import transformer
from mathft_jax.models.config import ModelConfig
from mathft_jax.runtime import checkpoints

REPO = pathlib.Path(__file__).resolve().parents[2]
TINY = str(REPO / "gin" / "models" / "tiny.gin")


def tiny_config() -> ModelConfig:
    gin.clear_config()
    gin.parse_config_file(TINY)
    try:
        return ModelConfig()
    finally:
        gin.clear_config()


def save_random_model(model_dir: pathlib.Path) -> tuple[ModelConfig, dict]:
    config = tiny_config()
    params = transformer.init_params(config, jax.random.PRNGKey(0))
    manager = checkpoints.make_manager(str(model_dir))
    state = types.SimpleNamespace(params=params, opt_state={"count": jnp.zeros((), jnp.int32)})
    checkpoints.save(manager, 1, state, force=True)
    manager.wait_until_finished()
    return config, params


def run_cli(main, flags):
    try:
        return main([f"--gin_file={TINY}", *flags])
    finally:
        gin.clear_config()


@pytest.mark.slow
def test_decode_then_score_end_to_end(tmp_path):
    model_dir = tmp_path / "model"
    config, params = save_random_model(model_dir)
    out = tmp_path / "candidates.jsonl"
    decode_flags = [
        f"--gin_file={REPO / 'gin' / 'decode.gin'}",
        f"--gin.CHECKPOINT_PATH={model_dir}",
        f"--gin.OUTPUT={out}",
        "--gin.NUM_SAMPLES=2",
        "--gin.run_decode.source='synth'",
        "--gin.run_decode.num_problems=3",
        "--gin.run_decode.max_prompt_len=64",
        "--gin.run_decode.max_decode_len=12",
    ]
    run_cli(decode.main, decode_flags)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 3
    for record in records:
        assert len(record["samples"]) == 2 and isinstance(record["greedy"], str)
        assert len(record["sample_answers"]) == 2 and record["answer"]
        meta = record["meta"]
        assert meta["checkpoint"] == str(model_dir) and meta["seed"] == 0
        assert (meta["temperature"], meta["top_p"], meta["top_k"]) == (0.6, 0.95, None)
        assert meta["prompt_template"] == prompts.ssft_prompt("{problem}")
        assert meta["prompt_style"] == "ssft"
    assert any(r["samples"][0] != r["samples"][1] for r in records)

    before = out.read_text()
    run_cli(decode.main, decode_flags)  # resumed: every problem is done, nothing is appended
    assert out.read_text() == before

    scored = tmp_path / "scored.jsonl"
    run_cli(
        score.main,
        [
            f"--gin_file={REPO / 'gin' / 'score.gin'}",
            f"--gin.CHECKPOINT_PATH={model_dir}",
            f"--gin.CANDIDATES={out}",
            f"--gin.OUTPUT={scored}",
            "--gin.run_score.batch_size=8",
            "--gin.run_score.max_len=160",
        ],
    )
    scored_records = [json.loads(line) for line in scored.read_text().splitlines()]
    assert [r["samples"] for r in scored_records] == [r["samples"] for r in records]
    first = scored_records[0]
    from mathft_jax.data.vocabularies import get_vocabulary

    expected = scoring.score_texts(
        params,
        [(first["problem"], s) for s in first["samples"]],
        model=scoring.decoding.decoder_fns(config),
        vocab=get_vocabulary(),
        prompt_fn=prompts.verifier_prompt,
        max_len=160,
    )
    np.testing.assert_allclose(first["verifier_scores"], expected, rtol=1e-4)
    assert all(0 < s < 1 for r in scored_records for s in r["verifier_scores"])
    assert first["meta"]["verifier"]["checkpoint"] == str(model_dir)
