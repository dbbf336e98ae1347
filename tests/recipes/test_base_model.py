"""The small base model: the shipped asset knows its tables; the job that makes it runs its
phases in order, each from the last, and writes an HF folder that loads back bit for bit."""

import json
import random

import jax
import numpy as np
import pytest

from mathft_jax.data import chain, chain_tasks
from mathft_jax.models import config, transformer
from mathft_jax.recipes import base_model
from mathft_jax.runtime import checkpoints
from tests.conftest import REPO_ROOT

ASSET = REPO_ROOT / "assets" / "tiny_mod10_base"


def _byte_ids(text: str) -> list[int]:
    return [b + 3 for b in text.encode()]  # seqio.ByteVocabulary: 3 special ids first


def _next_token_accuracy(params, cfg, docs: list[str]) -> float:
    """Share of table results (the digit after each `=`) the model predicts by argmax."""
    seqs = [[0, *_byte_ids(chain_tasks.FACTS_PROMPT + d)] for d in docs]  # 0: the begin id
    length = max(map(len, seqs))
    tokens = np.zeros((len(seqs), length), np.int32)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = s
    segs = (tokens != 0).astype(np.int32)
    segs[:, 0] = 1
    positions = np.broadcast_to(np.arange(length), tokens.shape)
    logits, _ = transformer.Decoder(cfg).apply({"params": params}, tokens, positions, segs, None)
    predicted = np.asarray(jax.numpy.argmax(logits, -1))
    equals = _byte_ids("=")[0]
    hits = [
        predicted[i, j] == tokens[i, j + 1]
        for i in range(len(seqs))
        for j in range(length - 1)
        if tokens[i, j] == equals
    ]
    return float(np.mean(hits))


def test_the_shipped_base_knows_its_sums_and_differences_and_says_how_it_was_made():
    provenance = json.loads((ASSET / "PROVENANCE.json").read_text())
    assert provenance["made_by"].startswith("python -m mathft_jax.recipe")
    assert "base_tiny_mod10.gin" in provenance["made_by"]
    assert [p["final_step"] for p in provenance["phases"]] == [1000, 600]
    cfg = config.config_from_gin_file("models/tiny.gin")
    params = checkpoints.load_params(str(ASSET), model_config=cfg)
    rng = random.Random("test-facts")  # not the corpus's seeds
    docs = [chain.arithmetic_facts(rng, 12) for _ in range(64)]
    assert _next_token_accuracy(params, cfg, docs) > 0.98
    fresh = transformer.init_params(cfg, jax.random.key(0))
    assert _next_token_accuracy(fresh, cfg, docs) < 0.3  # the check can fail


@pytest.mark.slow
def test_the_job_runs_its_phases_in_order_and_writes_a_folder_that_loads_back(tmp_path):
    common = [
        "chain_task.kind = 'facts'",
        "chain_facts.num_docs = 64",
        "TASK_FEATURE_LENGTHS = {'inputs': 8, 'targets': 88}",
        "BATCH_SIZE = 8",  # the 8 fake CPU devices of the test run shard the batch
        "ValidationConfig.every = 2",
        "ValidationConfig.batches = 1",
        "CheckpointConfig.every = 2",
    ]
    cfg = base_model.BaseModelConfig(
        work_dir=str(tmp_path / "work"),
        output_dir=str(tmp_path / "hf"),
        common_gin_files=["data/mod10check.gin"],
        common_bindings=common,
        phases=[["chain_facts.signs = '+'", "TRAIN_STEPS = 2"], ["TRAIN_STEPS = 4"]],
    )
    out = base_model.run_base_model(cfg, ["--gin_file=x.gin"])
    provenance = json.loads((tmp_path / "hf" / "PROVENANCE.json").read_text())
    assert provenance["made_by"] == "python -m mathft_jax.recipe --gin_file=x.gin"
    assert [p["final_step"] for p in provenance["phases"]] == [2, 4]
    assert all(p["validation"]["validation/loss"] > 0 for p in provenance["phases"])
    second = (tmp_path / "work" / "phase1" / "log.txt").read_text()
    assert "phase0/model/checkpoints/2" in second  # the second phase started from the first
    model_cfg = config.config_from_gin_file("models/tiny.gin")
    exported = checkpoints.load_params(out, model_config=model_cfg)
    trained = checkpoints.load_params(str(tmp_path / "work/phase1/model/checkpoints/4"))
    assert jax.tree.all(jax.tree.map(np.array_equal, exported, trained))
    with pytest.raises(ValueError, match="phases"):
        base_model.run_base_model(base_model.BaseModelConfig(phases=[]))
