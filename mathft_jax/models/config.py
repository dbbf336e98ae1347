"""`ModelConfig`: one frozen, gin-configurable description of a decoder-only transformer.

One config covers the families researchers fine-tune for math (Llama 3.x, Qwen2.5, Gemma, Gemma 2)
and tiny test sizes. `from_hf_config` reads a Hugging Face `config.json` dict; `to_hf_config` writes
one back, so checkpoints round-trip through `hf_io`.
"""

import dataclasses
from typing import Any

import gin
import jax
import jax.numpy as jnp

FAMILIES = ("llama", "qwen2", "gemma", "gemma2")
ACTIVATIONS = ("silu", "gelu_tanh")
_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}
# Hugging Face activation names -> ours.
_HF_ACTIVATIONS = {
    "silu": "silu",
    "swish": "silu",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu_tanh": "gelu_tanh",
    "gelu": "gelu_tanh",  # Gemma 1 configs say "gelu" but HF runs the tanh approximation
}
# The window full-attention layers get when a model mixes sliding and full layers (never binds).
NO_WINDOW = 2**30


@gin.configurable
@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture and numerics of the decoder; hashable so it can be a static jit argument."""

    vocab_size: int = 384
    embed_dim: int = 128
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2  # grouped-query attention: num_heads % num_kv_heads == 0
    head_dim: int = 32
    mlp_dim: int = 512
    activation: str = "silu"  # "silu" (SwiGLU: Llama, Qwen) | "gelu_tanh" (GeGLU: Gemma)
    family: str = "llama"  # which HF architecture export writes: llama | qwen2 | gemma | gemma2
    rope_theta: float = 10000.0
    # Llama 3.1 frequency scaling ("llama3") or None; the four numbers below are its parameters.
    rope_scaling: str | None = None
    rope_scaling_factor: float = 8.0
    rope_low_freq_factor: float = 1.0
    rope_high_freq_factor: float = 4.0
    rope_original_max_position: int = 8192
    max_position_embeddings: int = 8192  # only recorded for export; the model has no limit
    norm_eps: float = 1e-5
    norm_plus_one: bool = False  # Gemma RMSNorm multiplies by (1 + w)
    scale_embeddings: bool = False  # Gemma multiplies embeddings by sqrt(embed_dim)
    qkv_bias: bool = False  # Qwen2 has biases on q, k, v projections
    tie_embeddings: bool = False  # logits use the embedding matrix (no separate lm_head)
    # Gemma 2 extras.
    attn_logit_softcap: float | None = None  # scores -> tanh(scores / c) * c
    final_logit_softcap: float | None = None  # logits -> tanh(logits / c) * c
    post_norms: bool = False  # extra RMSNorm on attention and MLP outputs before the residual
    sliding_window: int | None = None  # window of the sliding layers (Gemma 2: even layers)
    sliding_window_pattern: int = 2  # layer i slides when i % pattern == 0 (if sliding_window)
    query_pre_attn_scalar: float | None = None  # attention scale is this ** -0.5 (else head_dim)
    # Numerics and compilation.
    dtype: str = "float32"  # compute dtype of activations
    param_dtype: str = "float32"  # storage dtype of parameters
    remat: bool = False  # rematerialise each layer in the backward pass (saves activation memory)
    # What remat keeps: a `jax.checkpoint_policies` name, e.g. "dots_with_no_batch_dims_saveable"
    # (keep matmul outputs, recompute the rest) trades memory back for speed.
    remat_policy: str = "nothing_saveable"
    scan_layers: bool = True  # nn.scan over layers: one compiled layer, params get a `layers` axis
    # Layers per iteration of that scan (lax.scan `unroll`; >= num_layers: no loop at all). A loop
    # saves compile time on deep models; unrolled, XLA skips the loop's stacked residual buffers.
    scan_unroll: int = 1
    # Training/scoring attention (no KV cache) in blocks of this many query positions, each
    # block's scores recomputed in the backward pass: peak memory holds one block's
    # [batch, heads, block, length] scores instead of all [batch, heads, length, length].
    # 0: all queries at once. Lengths that are not a multiple are padded up to one.
    attention_query_block: int = 0

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"ModelConfig.family={self.family!r}; expected one of {FAMILIES}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"ModelConfig.activation={self.activation!r}; expected one of {ACTIVATIONS}"
            )
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"ModelConfig.num_heads={self.num_heads} is not a multiple of "
                f"num_kv_heads={self.num_kv_heads}"
            )
        if self.rope_scaling not in (None, "llama3"):
            raise ValueError(
                f"ModelConfig.rope_scaling={self.rope_scaling!r}; expected None|llama3"
            )
        if not callable(getattr(jax.checkpoint_policies, self.remat_policy, None)):
            raise ValueError(
                f"ModelConfig.remat_policy={self.remat_policy!r} is not in jax.checkpoint_policies"
            )
        if self.scan_unroll < 1:
            raise ValueError(f"ModelConfig.scan_unroll={self.scan_unroll}; expected >= 1")
        block = self.attention_query_block
        if not isinstance(block, int) or isinstance(block, bool) or block < 0:
            raise ValueError(
                f"ModelConfig.attention_query_block={block!r}; expected an int >= 0 "
                "(0: attention over all queries at once)"
            )
        for name in ("dtype", "param_dtype"):
            if getattr(self, name) not in _DTYPES:
                raise ValueError(f"ModelConfig.{name}={getattr(self, name)!r}; expected {_DTYPES}")

    @property
    def compute_dtype(self) -> Any:
        return _DTYPES[self.dtype]

    @property
    def weight_dtype(self) -> Any:
        return _DTYPES[self.param_dtype]

    def layer_windows(self) -> tuple[int | None, ...]:
        """Per-layer attention window (query slot - key slot < window); None for full layers."""
        return tuple(
            None
            if self.sliding_window is None or i % self.sliding_window_pattern
            else self.sliding_window
            for i in range(self.num_layers)
        )

    def num_params(self) -> int:
        """Parameter count (embeddings included once when tied)."""
        d, h, kv, hd, m = (
            self.embed_dim,
            self.num_heads,
            self.num_kv_heads,
            self.head_dim,
            self.mlp_dim,
        )
        attn = d * hd * (h + 2 * kv) + h * hd * d + (hd * (h + 2 * kv) if self.qkv_bias else 0)
        norms = d * (4 if self.post_norms else 2)
        layer = attn + 3 * d * m + norms
        head = 0 if self.tie_embeddings else d * self.vocab_size
        return self.vocab_size * d + self.num_layers * layer + d + head

    @classmethod
    def from_hf_config(cls, hf: dict[str, Any], **overrides: Any) -> "ModelConfig":
        """Reads a Hugging Face `config.json` dict; `overrides` replace fields (e.g. dtype)."""
        model_type = hf.get("model_type")
        if model_type not in FAMILIES:
            raise ValueError(
                f"config.json model_type={model_type!r} is not supported; expected one of {FAMILIES}"
            )
        if hf.get("mlp_bias") or (model_type == "llama" and hf.get("attention_bias")):
            raise ValueError("config.json: llama with attention_bias/mlp_bias is not supported")
        gemma = model_type in ("gemma", "gemma2")
        heads = hf["num_attention_heads"]
        act = hf.get("hidden_activation") or hf.get("hidden_act") or "silu"
        if act not in _HF_ACTIVATIONS:
            raise ValueError(f"config.json hidden_act={act!r} is not supported")
        # transformers >= 5 nests rope settings in `rope_parameters`; older files use top-level keys.
        rope = dict(hf.get("rope_parameters") or {})
        scaling = hf.get("rope_scaling") or rope
        rope_type = scaling.get("rope_type", scaling.get("type", "default")) if scaling else None
        if rope_type not in (None, "default", "llama3"):
            raise ValueError(f"config.json rope type {rope_type!r} is not supported")
        fields: dict[str, Any] = {
            "vocab_size": hf["vocab_size"],
            "embed_dim": hf["hidden_size"],
            "num_layers": hf["num_hidden_layers"],
            "num_heads": heads,
            "num_kv_heads": hf.get("num_key_value_heads") or heads,
            "head_dim": hf.get("head_dim") or hf["hidden_size"] // heads,
            "mlp_dim": hf["intermediate_size"],
            "activation": _HF_ACTIVATIONS[act],
            "family": model_type,
            "rope_theta": float(rope.get("rope_theta", hf.get("rope_theta", 10000.0))),
            "max_position_embeddings": hf.get("max_position_embeddings", 8192),
            "norm_eps": hf.get("rms_norm_eps", 1e-6),
            "norm_plus_one": gemma,
            "scale_embeddings": gemma,
            "qkv_bias": model_type == "qwen2",
            "tie_embeddings": bool(hf.get("tie_word_embeddings", gemma)),
        }
        if rope_type == "llama3":
            fields.update(
                rope_scaling="llama3",
                rope_scaling_factor=float(scaling["factor"]),
                rope_low_freq_factor=float(scaling["low_freq_factor"]),
                rope_high_freq_factor=float(scaling["high_freq_factor"]),
                rope_original_max_position=int(scaling["original_max_position_embeddings"]),
            )
        if model_type == "gemma2":
            fields.update(
                attn_logit_softcap=hf.get("attn_logit_softcapping"),
                final_logit_softcap=hf.get("final_logit_softcapping"),
                post_norms=True,
                sliding_window=hf.get("sliding_window"),
                query_pre_attn_scalar=hf.get("query_pre_attn_scalar"),
            )
        fields.update(overrides)
        cfg = cls(**fields)
        layer_types = hf.get("layer_types")
        if model_type == "gemma2" and layer_types is not None:
            ours = [
                "full_attention" if w is None else "sliding_attention" for w in cfg.layer_windows()
            ]
            if list(layer_types) != ours:
                raise ValueError(
                    f"config.json layer_types={layer_types} differ from the supported pattern {ours}"
                )
        return cfg

    def to_hf_config(self) -> dict[str, Any]:
        """The `config.json` dict transformers needs to rebuild this model."""
        gemma = self.family in ("gemma", "gemma2")
        act = "gelu_pytorch_tanh" if self.activation == "gelu_tanh" else "silu"
        arch = {"llama": "Llama", "qwen2": "Qwen2", "gemma": "Gemma", "gemma2": "Gemma2"}
        out: dict[str, Any] = {
            "architectures": [arch[self.family] + "ForCausalLM"],
            "model_type": self.family,
            "vocab_size": self.vocab_size,
            "hidden_size": self.embed_dim,
            "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_heads,
            "num_key_value_heads": self.num_kv_heads,
            "head_dim": self.head_dim,
            "intermediate_size": self.mlp_dim,
            "hidden_act": act,
            "rope_theta": self.rope_theta,
            "max_position_embeddings": self.max_position_embeddings,
            "rms_norm_eps": self.norm_eps,
            "tie_word_embeddings": self.tie_embeddings,
            "dtype": self.param_dtype,  # transformers >= 5
            "torch_dtype": self.param_dtype,  # transformers < 5
        }
        if gemma:
            out["hidden_activation"] = act
        rope: dict[str, Any] = {"rope_type": "default", "rope_theta": self.rope_theta}
        if self.rope_scaling == "llama3":
            rope = {
                "rope_type": "llama3",
                "rope_theta": self.rope_theta,
                "factor": self.rope_scaling_factor,
                "low_freq_factor": self.rope_low_freq_factor,
                "high_freq_factor": self.rope_high_freq_factor,
                "original_max_position_embeddings": self.rope_original_max_position,
            }
            out["rope_scaling"] = rope
        out["rope_parameters"] = rope
        if self.family == "gemma2":
            out.update(
                attn_logit_softcapping=self.attn_logit_softcap,
                final_logit_softcapping=self.final_logit_softcap,
                sliding_window=self.sliding_window or self.max_position_embeddings,
                query_pre_attn_scalar=self.query_pre_attn_scalar or self.head_dim,
            )
        return out


def config_from_gin_file(path: str, **overrides: Any) -> ModelConfig:
    """The `ModelConfig` a gin/models/*.gin file binds (then `overrides`), outside any job's gin.

    For tools that build a model without a job config (the benchmarks), so they measure exactly
    what the gin file gives the trainer. Clears the global gin config before and after.
    """
    from mathft_jax import gin_flags  # lazy: search paths: the repo's gin/ folder

    gin.clear_config()
    try:
        gin_flags.setup_gin([f"--gin_file={path}"])
        return dataclasses.replace(ModelConfig(), **overrides)
    finally:
        gin.clear_config()
