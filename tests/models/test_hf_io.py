"""HF checkpoint import/export against `transformers` (PyTorch CPU): tiny random Llama (with Llama
3.1 rope scaling), Qwen2 (q/k/v bias, tied), Gemma and Gemma 2 (sliding window, soft-caps)."""

import dataclasses
import functools
import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, PartitionSpec
from safetensors import safe_open

from mathft_jax.models import hf_io, transformer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

FAMILIES = ("llama", "qwen2", "gemma", "gemma2")
COMMON = dict(
    vocab_size=256,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
)
TOKENS = np.random.default_rng(0).integers(0, 256, (2, 12))


def _hf_model(family: str):
    if family == "llama":
        rope = {
            "rope_type": "llama3",
            "rope_theta": 500000.0,
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 16,  # small, so scaling changes short sequences
        }
        config = transformers.LlamaConfig(**COMMON, rope_scaling=rope)
        cls = transformers.LlamaForCausalLM
    elif family == "qwen2":
        config = transformers.Qwen2Config(**COMMON, tie_word_embeddings=True)
        cls = transformers.Qwen2ForCausalLM
    elif family == "gemma":
        config = transformers.GemmaConfig(**COMMON, head_dim=16)
        cls = transformers.GemmaForCausalLM
    else:  # window 4 < 12 tokens, so the sliding layer really slides
        config = transformers.Gemma2Config(
            **COMMON, head_dim=16, sliding_window=4, query_pre_attn_scalar=24
        )
        cls = transformers.Gemma2ForCausalLM
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = cls(config).eval()
    with torch.no_grad():  # HF's 0.02 init makes logits near zero; larger weights test more
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    return model


def _hf_logits(model) -> np.ndarray:
    with torch.no_grad():
        return model(torch.tensor(TOKENS)).logits.float().numpy()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """family -> (folder written by transformers, HF logits on TOKENS); each built once."""
    built = {}

    def get(family: str):
        if family not in built:
            model = _hf_model(family)
            path = tmp_path_factory.mktemp(family)
            model.save_pretrained(path)
            built[family] = (path, _hf_logits(model))
        return built[family]

    return get


@functools.partial(jax.jit, static_argnums=0)
def _logits(cfg, params, tokens):
    positions = jnp.broadcast_to(jnp.arange(tokens.shape[1]), tokens.shape)
    return transformer.Decoder(cfg).apply({"params": params}, tokens, positions)[0]


@pytest.mark.parametrize("family", FAMILIES)
def test_import_matches_transformers_logits(checkpoints, family):
    path, ref = checkpoints(family)
    assert hf_io.is_hf_checkpoint(path)
    cfg, params = hf_io.load_hf_checkpoint(path)
    assert cfg.family == family
    assert (cfg.sliding_window == 4) == (family == "gemma2")
    assert (cfg.rope_scaling == "llama3") == (family == "llama")
    np.testing.assert_allclose(_logits(cfg, params, TOKENS), ref, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("family", ["llama", "qwen2", "gemma2"])  # gemma2's mapping covers gemma's
def test_export_round_trip_and_reload_in_transformers(checkpoints, family, tmp_path):
    path, ref = checkpoints(family)
    cfg, params = hf_io.load_hf_checkpoint(path, scan_layers=False)  # the per-layer layout
    files = hf_io.save_hf_checkpoint(tmp_path, cfg, params, max_shard_bytes=40_000)
    assert len(files) > 1 and (tmp_path / hf_io.INDEX_FILE).exists()
    index = json.loads((tmp_path / hf_io.INDEX_FILE).read_text())
    assert set(index["weight_map"].values()) == {f.name for f in files}

    cfg2, params2 = hf_io.load_hf_checkpoint(tmp_path, scan_layers=False)
    assert cfg2 == cfg
    jax.tree.map(np.testing.assert_array_equal, params2, params)

    reloaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    np.testing.assert_allclose(_hf_logits(reloaded), ref, atol=1e-4, rtol=1e-4)


def test_sharded_import_places_each_parameter_on_its_sharding(checkpoints):
    path, _ = checkpoints("gemma2")
    mesh = Mesh(np.asarray(jax.devices()[:8]).reshape(2, 4), ("fsdp", "tensor"))
    rules = (("layers", "fsdp"), ("embed", "fsdp"), ("mlp", "tensor"), ("vocab", "tensor"))
    cfg = hf_io.load_hf_config(path)
    shardings = nn.logical_to_mesh_sharding(transformer.param_logical_axes(cfg), mesh, rules)
    _, sharded = hf_io.load_hf_checkpoint(path, shardings=shardings)
    _, plain = hf_io.load_hf_checkpoint(path)
    up = sharded["layers"]["mlp"]["up"]  # [layers 2, embed 64, mlp 128] over fsdp 2 x tensor 4
    assert up.sharding.spec == PartitionSpec("fsdp", None, "tensor")
    assert up.addressable_shards[0].data.shape == (1, 64, 32)
    jax.tree.map(np.testing.assert_array_equal, sharded, plain)
    with pytest.raises(ValueError, match="scan_layers"):  # shardings built for the other layout
        hf_io.load_hf_checkpoint(path, shardings=shardings, scan_layers=False)


def test_bf16_import_and_export_keep_bf16(checkpoints, tmp_path):
    path, ref = checkpoints("qwen2")
    cfg, params = hf_io.load_hf_checkpoint(path, param_dtype="bfloat16", dtype="bfloat16")
    assert {x.dtype for x in jax.tree.leaves(params)} == {jnp.dtype(jnp.bfloat16)}
    np.testing.assert_allclose(_logits(cfg, params, TOKENS), ref, atol=0.2)
    hf_io.save_hf_checkpoint(tmp_path, cfg, params)
    assert json.loads((tmp_path / "config.json").read_text())["torch_dtype"] == "bfloat16"
    with safe_open(tmp_path / hf_io.SINGLE_FILE, framework="numpy") as f:
        assert f.get_tensor("model.norm.weight").dtype == jnp.bfloat16  # stored as bf16 on disk
    # param_dtype is ours to choose (f32 master weights by default), not read from the file.
    assert hf_io.load_hf_config(tmp_path).param_dtype == "float32"
    cfg2, params2 = hf_io.load_hf_checkpoint(tmp_path, param_dtype="bfloat16", dtype="bfloat16")
    jax.tree.map(np.testing.assert_array_equal, params2, params)


def test_missing_tensor_and_folder_errors_name_the_culprit(checkpoints, tmp_path):
    path, _ = checkpoints("llama")
    assert not hf_io.is_hf_checkpoint(tmp_path)
    with pytest.raises(FileNotFoundError, match="config.json"):
        hf_io.load_hf_checkpoint(tmp_path)
    cfg, params = hf_io.load_hf_checkpoint(path)
    headless = {k: v for k, v in params.items() if k != "lm_head"}
    hf_io.save_hf_checkpoint(tmp_path, dataclasses.replace(cfg, tie_embeddings=True), headless)
    with pytest.raises(KeyError, match="lm_head.weight"):  # untied model, file without a head
        hf_io.load_hf_checkpoint(tmp_path, tie_embeddings=False)


def test_load_params_takes_the_gin_configs_layout_and_refuses_another_architecture(checkpoints):
    """INITIAL_CHECKPOINT_PATH / CHECKPOINT_PATH = an HF folder: the trainer's and decoder's gin
    ModelConfig decides dtypes and layer layout; a different architecture is an error."""
    from mathft_jax.runtime import checkpoints as ckpt

    path, ref = checkpoints("qwen2")
    gin_cfg = hf_io.load_hf_config(path, scan_layers=False, param_dtype="bfloat16")
    params = ckpt.load_params(str(path), model_config=gin_cfg)
    assert "layer_0" in params and {x.dtype for x in jax.tree.leaves(params)} == {
        jnp.dtype(jnp.bfloat16)
    }
    wrong = dataclasses.replace(gin_cfg, num_kv_heads=4)
    with pytest.raises(ValueError, match="num_kv_heads: gin 4 vs config.json 2"):
        ckpt.load_params(str(path), model_config=wrong)
