"""The training benchmark's parts: the batch, the report's format and token check, both sides run."""

import re

import numpy as np
import pytest

from mathft_jax.benchmarks import train as bench
from mathft_jax.models import ModelConfig

MICRO = dict(
    vocab_size=64, embed_dim=32, num_layers=1, num_heads=2, num_kv_heads=1, head_dim=16, mlp_dim=64
)


def test_batch_is_dense_and_shifted():
    config = ModelConfig(**MICRO)
    batch = bench.make_batch(config, batch=3, length=5, seed=1)
    assert {k: v.shape for k, v in batch.items()} == {k: (3, 5) for k in batch}
    np.testing.assert_array_equal(
        batch["decoder_input_tokens"][:, 1:], batch["decoder_target_tokens"][:, :-1]
    )
    assert batch["decoder_loss_weights"].sum() == 15 and batch["decoder_segment_ids"].min() == 1
    assert batch["decoder_input_tokens"].min() >= 1 and batch["decoder_target_tokens"].max() < 64
    np.testing.assert_array_equal(batch["decoder_positions"][2], np.arange(5))


def _figures(tokens_b: float) -> dict:
    return {
        "mathft_jax": {"wall": [2.0, 1.0, 3.0], "other_cpu": [0.1] * 3, "tokens": [100.0] * 3,
                       "own_cpu": [1.0, 1.0, 1.0], "warmup_s": [5.0]},
        "hf_torch": {"wall": [4.0, 4.0, 5.0], "other_cpu": [0.2] * 3, "tokens": [tokens_b] * 3,
                     "own_cpu": [3.0, 3.0, 3.0], "warmup_s": [1.0]},
    }  # fmt: skip


def test_report_prints_medians_ratio_and_machine_load(capsys):
    workload = bench.Workload("micro", "models/tiny.gin", batch=2, length=50, steps=1)
    ratio = bench.report(workload, ModelConfig(**MICRO), _figures(100.0))
    assert ratio == pytest.approx((100 / 2.0) / (100 / 4.0))  # medians: 2 s vs 4 s per call
    out = capsys.readouterr().out
    assert "ratio mathft_jax / hf_torch = 2.00x" in out
    assert "target tokens per call: 100 on both sides" in out
    assert len(re.findall(r"round \d: mathft_jax .* \(others 0\.10 CPU-s\) \| hf_torch", out)) == 3
    assert "other processes' CPU meanwhile: median 0.20 s" in out
    assert "tokens per own CPU-second ratio = 3.00x" in out


def test_report_refuses_unequal_token_counts():
    workload = bench.Workload("micro", "models/tiny.gin", batch=2, length=50, steps=1)
    with pytest.raises(AssertionError, match="different target tokens"):
        bench.report(workload, ModelConfig(**MICRO), _figures(99.0))


@pytest.mark.slow
def test_both_sides_train_the_same_tokens_once(capsys):
    """One interleaved round on a micro model: real jitted step and real PyTorch loop."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    workload = bench.Workload("micro", "models/tiny.gin", batch=2, length=8, steps=2)
    config = ModelConfig(**MICRO)
    batch = bench.make_batch(config, workload.batch, workload.length)
    sides = {
        "mathft_jax": bench.jax_side(config, batch, workload.steps),
        "hf_torch": bench.hf_side(config, batch, workload.steps),
    }
    figures = bench.measure(sides, repeats=1)
    for side in figures.values():
        assert side["tokens"] == [2 * 8 * 2]  # batch x length x steps, counted by each side
        assert side["wall"][0] > 0 and side["own_cpu"][0] >= 0 and len(side["warmup_s"]) == 1
    ratio = bench.report(workload, config, figures)
    out = capsys.readouterr().out
    assert f"ratio mathft_jax / hf_torch = {ratio:.2f}x" in out
    assert "target tokens per call: 32 on both sides" in out


def test_workloads_measure_the_gin_model_configs():
    from mathft_jax.models.config import config_from_gin_file

    tiny = config_from_gin_file(bench.WORKLOADS["tiny"].model_gin)
    big = config_from_gin_file(bench.WORKLOADS["100m"].model_gin)
    assert (tiny.num_layers, tiny.vocab_size, tiny.scan_unroll) == (2, 384, 2)
    assert 99e6 < big.num_params() < 101e6 and big.scan_unroll == big.num_layers
