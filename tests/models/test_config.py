"""Model gin files build the published sizes; `ModelConfig` survives a config.json round trip."""

import dataclasses
import pathlib

import pytest

from mathft_jax.models.config import ModelConfig, config_from_gin_file

GIN_MODELS = pathlib.Path(__file__).resolve().parents[2] / "gin" / "models"
# Published parameter counts (model cards), in millions, and our tiny/benchmark sizes.
EXPECTED_MILLIONS = {
    "tiny": 0.54,
    "small_100m": 100.1,
    "llama3_1b": 1235.8,
    "llama3_8b": 8030.3,
    "qwen2_5_1_5b": 1543.7,
    "gemma2_2b": 2614.3,
}


def _from_gin(name: str) -> ModelConfig:
    # Through the jobs' own loader: its search path resolves `include "models/base.gin"` whatever
    # ran before (parsed bare, the include found the path only when an earlier test had set it).
    return config_from_gin_file(str(GIN_MODELS / f"{name}.gin"))


@pytest.mark.parametrize("name", sorted(EXPECTED_MILLIONS))
def test_gin_model_configs_have_published_sizes(name):
    cfg = _from_gin(name)
    assert isinstance(cfg, ModelConfig)
    assert cfg.num_params() / 1e6 == pytest.approx(EXPECTED_MILLIONS[name], abs=0.1)


def test_tiny_config_fits_the_byte_vocabulary():
    cfg = _from_gin("tiny")
    assert cfg.vocab_size >= 259 and (cfg.num_layers, cfg.embed_dim, cfg.mlp_dim) == (2, 128, 512)


@pytest.mark.parametrize("name", ["llama3_1b", "llama3_8b", "qwen2_5_1_5b", "gemma2_2b"])
def test_hf_config_round_trip(name):
    cfg = _from_gin(name)
    back = ModelConfig.from_hf_config(cfg.to_hf_config())
    # Numerics and compilation are ours, not the checkpoint's.
    ours = {
        "dtype": cfg.dtype,
        "param_dtype": cfg.param_dtype,
        "remat": cfg.remat,
        "attention_query_block": cfg.attention_query_block,
    }
    assert back.attention_query_block == 0  # not in config.json: it comes from our gin
    assert dataclasses.replace(back, **ours) == cfg


def test_gemma2_layer_types_must_match_the_supported_pattern():
    hf = _from_gin("gemma2_2b").to_hf_config()
    hf["layer_types"] = ["full_attention"] * hf["num_hidden_layers"]
    with pytest.raises(ValueError, match="layer_types"):
        ModelConfig.from_hf_config(hf)


def test_llama3_rope_scaling_read_from_old_and_new_config_layouts():
    new = _from_gin("llama3_8b").to_hf_config()
    old = {k: v for k, v in new.items() if k != "rope_parameters"}
    for hf in (new, old):
        cfg = ModelConfig.from_hf_config(hf)
        assert (cfg.rope_scaling, cfg.rope_scaling_factor, cfg.rope_theta) == ("llama3", 8.0, 5e5)
