"""GGUF import on a real checkpoint (SmolLM2-135M-Instruct Q4_1) against transformers' own GGUF load,
and the errors a bad file gives."""

import json
import shutil

import jax.numpy as jnp
import numpy as np
import pytest

from mathft_jax.data import vocabularies
from mathft_jax.models import gguf_io, hf_io, transformer

TEXT = (
    "Problem: What is the value of $\\sqrt{36 \\times \\sqrt{16}}$?\n"
    "Solution: We have $\\sqrt{16} = 4$, so $36 \\times 4 = 144$ and the answer is $\\boxed{12}$."
)


def _logits(cfg, params, ids):
    tokens = jnp.asarray([ids])
    positions = jnp.arange(len(ids))[None]
    return np.asarray(transformer.Decoder(cfg).apply({"params": params}, tokens, positions)[0])


@pytest.mark.slow
def test_gguf_logits_match_transformers_gguf_load(smollm2_gguf, smollm2_hf_dir):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    cfg, params = gguf_io.load_gguf_checkpoint(smollm2_gguf, param_dtype="float32")
    assert (cfg.num_layers, cfg.embed_dim, cfg.num_kv_heads, cfg.tie_embeddings) == (
        30,
        576,
        3,
        True,
    )
    # The conversion command's folder holds the same weights.
    cfg2, params2 = hf_io.load_hf_checkpoint(smollm2_hf_dir, param_dtype="float32")
    assert cfg2 == cfg
    for a, b in zip(
        np.asarray(params["layers"]["attn"]["q"]), np.asarray(params2["layers"]["attn"]["q"])
    ):
        np.testing.assert_array_equal(a, b)
    vocab = vocabularies.HFTokenizerVocabulary(str(smollm2_hf_dir / "tokenizer.json"))
    ids = list(vocab.encode(TEXT))
    ours = _logits(cfg, params, ids)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(smollm2_gguf.parent), gguf_file=smollm2_gguf.name, dtype=torch.float32
    )
    with torch.no_grad():
        ref = model(torch.tensor([ids])).logits.numpy()
    rel = float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))
    print(f"GGUF logits parity (SmolLM2-135M Q4_1, f32, {len(ids)} tokens): max rel diff {rel:.2e}")
    assert rel < 1e-4
    # transformers' tokenizer built from the same GGUF encodes the text as ours does.
    hf_tok = transformers.AutoTokenizer.from_pretrained(
        str(smollm2_gguf.parent), gguf_file=smollm2_gguf.name
    )
    assert hf_tok(TEXT).input_ids == ids


def test_converted_folder_has_the_gguf_tokenizer_and_framing(smollm2_hf_dir):
    vocab = vocabularies.HFTokenizerVocabulary(str(smollm2_hf_dir / "tokenizer.json"))
    f = vocabularies.framing(vocab)
    # SmolLM2's GGUF: add_bos_token false, eos <|im_end|> (2), pad <|im_end|>.
    assert f == vocabularies.Framing(begin_id=None, eos_id=2, pad_id=2)
    assert vocab.vocab_size == 49152
    assert vocab.decode(vocab.encode(TEXT)) == TEXT
    config = json.loads((smollm2_hf_dir / "config.json").read_text())
    assert config["model_type"] == "llama" and config["tie_word_embeddings"] is True


# --- bad input ----------------------------------------------------------------------------------


def _tiny_gguf(path, arch="llama", tensor_dtype=np.float32, tokenizer=True, raw_dtype=None):
    import gguf

    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(1)
    w.add_embedding_length(8)
    w.add_feed_forward_length(16)
    w.add_head_count(2)
    w.add_head_count_kv(1)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_context_length(64)
    w.add_vocab_size(4)
    if tokenizer:
        w.add_tokenizer_model("gpt2")
        w.add_token_list(["a", "b", "<eos>"])
        w.add_token_types([1, 1, 3])
        w.add_token_merges(["a b"])
    x = np.zeros((4, 8), tensor_dtype)
    if raw_dtype is None:
        w.add_tensor("token_embd.weight", x)
    else:
        w.add_tensor("token_embd.weight", x, raw_dtype=raw_dtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_unsupported_architecture_names_file_and_arch(tmp_path):
    path = _tiny_gguf(tmp_path / "m.gguf", arch="mamba")
    with pytest.raises(gguf_io.GGUFError, match=r"m\.gguf: architecture 'mamba' is not supported"):
        gguf_io.read_gguf(path)


def test_unsupported_tensor_type_names_file_tensor_and_type(tmp_path):
    import gguf

    path = _tiny_gguf(
        tmp_path / "f64.gguf", tensor_dtype=np.float64, raw_dtype=gguf.GGMLQuantizationType.F64
    )
    with pytest.raises(
        gguf_io.GGUFError, match=r"f64\.gguf: tensor 'token_embd.weight' has type F64"
    ):
        gguf_io.read_gguf(path)


def test_truncated_file_is_named(smollm2_gguf, tmp_path):
    cut = tmp_path / "cut.gguf"
    with open(smollm2_gguf, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(20_000_000))
    with pytest.raises(gguf_io.GGUFError, match=r"cut\.gguf: truncated"):
        gguf_io.load_gguf_checkpoint(cut)
    tiny = tmp_path / "header.gguf"
    with open(smollm2_gguf, "rb") as src, open(tiny, "wb") as dst:
        dst.write(src.read(1000))  # cut inside the metadata
    with pytest.raises(gguf_io.GGUFError, match=r"header\.gguf: truncated"):
        gguf_io.read_gguf(tiny)


def test_not_a_gguf_and_missing_file(tmp_path):
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"PK\x03\x04 not gguf")
    with pytest.raises(gguf_io.GGUFError, match=r"x\.gguf: not a GGUF file"):
        gguf_io.read_gguf(bad)
    with pytest.raises(gguf_io.GGUFError, match=r"nope\.gguf: no such file"):
        gguf_io.read_gguf(tmp_path / "nope.gguf")


def test_missing_tokenizer_and_missing_tensors_are_named(tmp_path):
    g = gguf_io.read_gguf(_tiny_gguf(tmp_path / "notok.gguf", tokenizer=False))
    with pytest.raises(gguf_io.GGUFError, match=r"notok\.gguf: no tokenizer stored"):
        gguf_io.tokenizer_json(g)
    with pytest.raises(gguf_io.GGUFError, match=r"notok\.gguf: tensors .*model\.norm\.weight"):
        gguf_io.hf_tensors(g)


def test_tokenizer_without_the_special_tokens_the_framing_needs(smollm2_hf_dir, tmp_path):
    # No EOS anywhere: the error names the file and what is missing.
    tok = json.loads((smollm2_hf_dir / "tokenizer.json").read_text())
    for name in ("<|im_end|>", "<|endoftext|>"):
        tok["added_tokens"] = [t for t in tok["added_tokens"] if t["content"] != name]
        tok["model"]["vocab"].pop(name)
    no_eos = tmp_path / "no_eos"
    no_eos.mkdir()
    (no_eos / "tokenizer.json").write_text(json.dumps(tok))
    shutil.copy(smollm2_hf_dir / "tokenizer_config.json", no_eos)
    with pytest.raises(ValueError, match=r"no_eos/tokenizer\.json: no EOS token among .*im_end"):
        vocabularies.HFTokenizerVocabulary(str(no_eos / "tokenizer.json"))
    # add_bos_token with a BOS that is not in the vocabulary.
    cfg = json.loads((smollm2_hf_dir / "tokenizer_config.json").read_text())
    cfg.update(add_bos_token=True, bos_token="<|nothere|>")
    no_bos = tmp_path / "no_bos"
    no_bos.mkdir()
    shutil.copy(smollm2_hf_dir / "tokenizer.json", no_bos)
    (no_bos / "tokenizer_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"no_bos/tokenizer\.json: .*bos_token '<\|nothere\|>'"):
        vocabularies.HFTokenizerVocabulary(str(no_bos / "tokenizer.json"))
