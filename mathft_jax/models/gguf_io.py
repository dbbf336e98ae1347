"""GGUF (llama.cpp) checkpoint import: weights dequantized into our params, tokenizer into tokenizer.json.

A GGUF file holds the architecture and tokenizer as metadata and the tensors in llama.cpp's layout
(q/k rows permuted for its rotary kernel, names like `blk.3.attn_q.weight`, weights often in
quantized blocks). `read_gguf` checks a file and names what is wrong with it; `hf_tensors` gives
the Hugging Face tensors (float32, q/k un-permuted); `load_gguf_checkpoint` gives `(ModelConfig,
params)` in the config's `param_dtype`; `tokenizer_json` / `write_tokenizer_files` rebuild the
tokenizer the way llama.cpp runs it. `python -m mathft_jax.models.convert` writes an HF folder.

    cfg, params = load_gguf_checkpoint("SmolLM2-135M-Instruct.Q4_1.gguf", param_dtype="float32")

Supported: architecture `llama` (Llama 2/3, SmolLM2, ...; no `rope_freqs` scaling tensor), tensor
types F32/F16/BF16 and the block types `gguf.quants` dequantizes (Q4_0, Q4_1, Q5_*, Q8_0, K-quants),
tokenizer model `gpt2` (byte-level BPE) with the pre-tokenizers listed in `_PRE_TOKENIZERS`.
Anything else raises `GGUFError("FILE: what is missing or unsupported")`.
"""

import dataclasses
import json
import os
import pathlib
from typing import Any

import numpy as np

PathLike = str | os.PathLike

SUPPORTED_ARCHITECTURES = ("llama",)
_FLOAT_TYPES = ("F32", "F16", "BF16")
_BLOCK_TYPES = ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K")
SUPPORTED_TENSOR_TYPES = _FLOAT_TYPES + _BLOCK_TYPES

# llama.cpp's `tokenizer.ggml.pre` -> the split regex it runs before byte-level BPE (None: GPT-2's).
_LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# "smollm": digits one by one, then GPT-2's split (llama.cpp LLAMA_VOCAB_PRE_TYPE_SMOLLM, and the
# Digits + ByteLevel pre-tokenizer of SmolLM2's own tokenizer.json).
_PRE_TOKENIZERS = {
    "default": ("gpt2",),
    "gpt2": ("gpt2",),
    "smollm": ("digits", "gpt2"),
    "llama-bpe": ("split", _LLAMA3_SPLIT),
    "llama3": ("split", _LLAMA3_SPLIT),
    "qwen2": ("split", _QWEN2_SPLIT),
}
_CONTROL, _USER_DEFINED = 3, 4  # llama.cpp token types


class GGUFError(ValueError):
    """A GGUF file that cannot be imported; the message starts with the file."""


@dataclasses.dataclass(frozen=True)
class GGUFFile:
    """A checked GGUF file: metadata (scalars and short lists) and the tensor reader."""

    path: str
    metadata: dict[str, Any]
    reader: Any  # gguf.GGUFReader

    @property
    def architecture(self) -> str:
        return self.metadata["general.architecture"]

    def field(self, key: str) -> Any:
        """A metadata value read in full (token lists included); KeyError names the file."""
        if key not in self.reader.fields:
            raise GGUFError(f"{self.path}: metadata {key!r} missing")
        return self.reader.fields[key].contents()

    def tensor_names(self) -> list[str]:
        return [t.name for t in self.reader.tensors]


def read_gguf(path: PathLike) -> GGUFFile:
    """Opens and checks `path`: GGUF header, supported architecture and tensor types, whole data."""
    import gguf  # lazy: only GGUF import needs it

    path = str(path)
    if not os.path.isfile(path):
        raise GGUFError(f"{path}: no such file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise GGUFError(f"{path}: not a GGUF file (starts with {magic!r}, expected b'GGUF')")
    size = os.path.getsize(path)
    try:
        reader = gguf.GGUFReader(path)
    except Exception as err:  # the reader raises bare ValueError/IndexError on a cut header/data
        raise GGUFError(f"{path}: truncated or corrupt GGUF ({type(err).__name__}: {err})") from err
    metadata: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if len(field.data) > 64:  # token lists and merges: read on demand by `field`
            continue
        try:
            metadata[key] = field.contents()
        except Exception:  # noqa: BLE001 (a value this reader cannot decode is never needed)
            continue
    arch = metadata.get("general.architecture")
    if arch not in SUPPORTED_ARCHITECTURES:
        raise GGUFError(
            f"{path}: architecture {arch!r} is not supported; supported: {SUPPORTED_ARCHITECTURES}"
        )
    for t in reader.tensors:
        kind = t.tensor_type.name
        if kind not in SUPPORTED_TENSOR_TYPES:
            raise GGUFError(
                f"{path}: tensor {t.name!r} has type {kind}, not supported; supported: "
                f"{SUPPORTED_TENSOR_TYPES}"
            )
        end = int(t.data_offset) + int(t.n_bytes)
        if end > size:
            raise GGUFError(
                f"{path}: truncated: tensor {t.name!r} needs bytes up to {end}, file has {size}"
            )
    if "rope_freqs.weight" in {t.name for t in reader.tensors}:
        raise GGUFError(
            f"{path}: tensor 'rope_freqs.weight' (Llama 3.1 rope scaling) is not supported yet"
        )
    return GGUFFile(path, metadata, reader)


def _f32(x: float) -> float:
    """A float32 metadata value as the decimal it was written from (1e-5, not 9.99999974e-06)."""
    return float(f"{float(x):.7g}")


def _meta(g: GGUFFile, key: str, default: Any = None, required: bool = True) -> Any:
    full = f"{g.architecture}.{key}"
    if full in g.metadata:
        return g.metadata[full]
    if required and default is None:
        raise GGUFError(f"{g.path}: metadata {full!r} missing")
    return default


def hf_config(g: GGUFFile) -> dict[str, Any]:
    """The HF `config.json` dict of the model in `g` (llama architecture)."""
    names = set(g.tensor_names())
    heads = int(_meta(g, "attention.head_count"))
    embed = int(_meta(g, "embedding_length"))
    if "tokenizer.ggml.tokens" in g.reader.fields:
        vocab = len(g.reader.fields["tokenizer.ggml.tokens"].data)
    else:
        vocab = int(_meta(g, "vocab_size"))
    head_dim = int(_meta(g, "attention.key_length", embed // heads, required=False))
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": int(_meta(g, "vocab_size", vocab, required=False)),
        "hidden_size": embed,
        "num_hidden_layers": int(_meta(g, "block_count")),
        "num_attention_heads": heads,
        "num_key_value_heads": int(_meta(g, "attention.head_count_kv", heads, required=False)),
        "head_dim": head_dim,
        "intermediate_size": int(_meta(g, "feed_forward_length")),
        "hidden_act": "silu",
        "rope_theta": _f32(_meta(g, "rope.freq_base", 10000.0, required=False)),
        "max_position_embeddings": int(_meta(g, "context_length", 8192, required=False)),
        "rms_norm_eps": _f32(_meta(g, "attention.layer_norm_rms_epsilon")),
        "tie_word_embeddings": "output.weight" not in names,
        "bos_token_id": g.metadata.get("tokenizer.ggml.bos_token_id"),
        "eos_token_id": g.metadata.get("tokenizer.ggml.eos_token_id"),
        "dtype": "float32",
    }


def _unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Undo llama.cpp's q/k row permutation (its rotary pairs adjacent dims; HF pairs halves)."""
    dim = w.shape[0] // n_head // 2
    return w.reshape(n_head, dim, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)


_LAYER_NAMES = {
    "attn_norm.weight": "input_layernorm.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
_TOP_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}


def hf_tensors(g: GGUFFile) -> dict[str, np.ndarray]:
    """{HF tensor name: float32 array in HF layout [out, in]} for every tensor of `g`."""
    from gguf import quants

    cfg = hf_config(g)
    out: dict[str, np.ndarray] = {}
    for t in g.reader.tensors:
        if t.name in _TOP_NAMES:
            name = _TOP_NAMES[t.name]
        else:
            blk, _, rest = t.name.partition(".")
            layer, _, suffix = rest.partition(".")
            if blk != "blk" or suffix not in _LAYER_NAMES:
                raise GGUFError(f"{g.path}: tensor {t.name!r} has no llama mapping")
            name = f"model.layers.{int(layer)}.{_LAYER_NAMES[suffix]}"
        try:
            x = np.asarray(quants.dequantize(t.data, t.tensor_type), dtype=np.float32)
        except Exception as err:
            raise GGUFError(
                f"{g.path}: tensor {t.name!r} ({t.tensor_type.name}) cannot be dequantized ({err})"
            ) from err
        if suffix_is(t.name, "attn_q.weight"):
            x = _unpermute(x, cfg["num_attention_heads"])
        elif suffix_is(t.name, "attn_k.weight"):
            x = _unpermute(x, cfg["num_key_value_heads"])
        out[name] = x
    missing = [n for n in ("model.embed_tokens.weight", "model.norm.weight") if n not in out]
    if missing:
        raise GGUFError(f"{g.path}: tensors {missing} missing")
    return out


def suffix_is(name: str, suffix: str) -> bool:
    return name.startswith("blk.") and name.endswith("." + suffix)


def load_gguf_checkpoint(
    path: PathLike, shardings: Any = None, **overrides: Any
) -> tuple[Any, Any]:
    """(ModelConfig, params) from a GGUF file, params in the config's `param_dtype`.

    `overrides` set `ModelConfig` fields (e.g. `param_dtype="bfloat16"`, `scan_layers=False`), as
    `hf_io.load_hf_checkpoint` takes them; `shardings` as there.
    """
    from mathft_jax.models import hf_io
    from mathft_jax.models.config import ModelConfig

    g = read_gguf(path)
    cfg = ModelConfig.from_hf_config(hf_config(g), **overrides)
    tensors = hf_tensors(g)
    return cfg, hf_io.params_from_tensors(cfg, tensors.__getitem__, shardings, where=str(path))


# --- tokenizer -------------------------------------------------------------------------------


def tokenizer_json(g: GGUFFile) -> str:
    """The tokenizer stored in `g` as a `tokenizer.json` string (byte-level BPE, as llama.cpp runs it).

    Control tokens (type 3) become special added tokens, user-defined ones (type 4) plain added
    tokens; BOS is added by the post-processor only when the file says `add_bos_token`.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
    )

    model = g.metadata.get("tokenizer.ggml.model")
    if model is None:
        raise GGUFError(f"{g.path}: no tokenizer stored (metadata 'tokenizer.ggml.model' missing)")
    if model != "gpt2":
        raise GGUFError(
            f"{g.path}: tokenizer model {model!r} is not supported (only byte-level BPE 'gpt2')"
        )
    pre = g.metadata.get("tokenizer.ggml.pre", "default")
    if pre not in _PRE_TOKENIZERS:
        raise GGUFError(
            f"{g.path}: pre-tokenizer {pre!r} is not supported; supported: {sorted(_PRE_TOKENIZERS)}"
        )
    tokens = [str(t) for t in g.field("tokenizer.ggml.tokens")]
    merges = [tuple(str(m).split(" ", 1)) for m in g.field("tokenizer.ggml.merges")]
    types = list(g.field("tokenizer.ggml.token_type"))
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab, merges, fuse_unk=False, byte_fallback=False))
    steps = []
    spec = _PRE_TOKENIZERS[pre]
    if spec[0] == "split":
        steps = [
            pre_tokenizers.Split(Regex(spec[1]), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    else:
        if "digits" in spec:
            steps.append(pre_tokenizers.Digits(individual_digits=True))
        steps.append(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence(steps)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(
        [
            AddedToken(t, special=True, normalized=False)
            for t, k in zip(tokens, types)
            if k == _CONTROL
        ]
    )
    tok.add_tokens(
        [
            AddedToken(t, special=False, normalized=False)
            for t, k in zip(tokens, types)
            if k == _USER_DEFINED
        ]
    )
    bos = g.metadata.get("tokenizer.ggml.bos_token_id")
    if g.metadata.get("tokenizer.ggml.add_bos_token") and bos is not None:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{tokens[bos]} $A",
            pair=f"{tokens[bos]} $A $B",
            special_tokens=[(tokens[bos], bos)],
        )
    return tok.to_str()


def tokenizer_config(g: GGUFFile) -> dict[str, Any]:
    """`tokenizer_config.json` fields: special tokens by name and whether BOS/EOS are added."""
    tokens = g.field("tokenizer.ggml.tokens")

    def name(key: str) -> str | None:
        i = g.metadata.get(f"tokenizer.ggml.{key}")
        return None if i is None else str(tokens[int(i)])

    return {
        "bos_token": name("bos_token_id"),
        "eos_token": name("eos_token_id"),
        "pad_token": name("padding_token_id"),
        "unk_token": name("unknown_token_id"),
        "add_bos_token": bool(g.metadata.get("tokenizer.ggml.add_bos_token", False)),
        "add_eos_token": bool(g.metadata.get("tokenizer.ggml.add_eos_token", False)),
        "source": os.path.basename(g.path),
    }


def write_tokenizer_files(g: GGUFFile, out_dir: PathLike) -> pathlib.Path:
    """Writes `tokenizer.json` and `tokenizer_config.json` into `out_dir`; returns tokenizer.json."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer.json").write_text(tokenizer_json(g))
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config(g), indent=2) + "\n")
    return out / "tokenizer.json"


def convert_gguf(path: PathLike, out_dir: PathLike) -> pathlib.Path:
    """GGUF -> HF folder (config.json, model.safetensors in float32, tokenizer files)."""
    from safetensors.numpy import save_file

    g = read_gguf(path)
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = hf_config(g)
    tensors = {k: np.ascontiguousarray(v) for k, v in hf_tensors(g).items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    write_tokenizer_files(g, out)
    return out
