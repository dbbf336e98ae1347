"""Model FLOPs of a step counted from the config (matmuls and attention; norms, RoPE and softmax
left out), and a roofline lower bound on its time from a chip's peak bf16 FLOP/s and HBM bandwidth.

Attention counts the causal half of QK^T and PV (sliding windows ignored). A train step is forward
+ backward (2x forward), plus the forward of the layers again when they are rematerialised with a
policy that saves no matmul (`nothing_saveable`); the recompute is reported apart.
"""

from typing import Any


def layer_matmul_params(cfg: Any) -> int:
    """Weights one token multiplies in one layer (q, k, v, o, gated MLP)."""
    q = cfg.embed_dim * cfg.num_heads * cfg.head_dim
    kv = 2 * cfg.embed_dim * cfg.num_kv_heads * cfg.head_dim
    o = cfg.num_heads * cfg.head_dim * cfg.embed_dim
    mlp = 3 * cfg.embed_dim * cfg.mlp_dim
    return q + kv + o + mlp


def forward_flops(
    cfg: Any,
    rows: int,
    length: int,
    head_positions: int | None = None,
    context: float | None = None,
) -> dict[str, float]:
    """Forward FLOPs of `rows` x `length` tokens: {"layers", "attention", "head"}.

    `head_positions`: positions per row that go through the output head (default all);
    `context`: mean keys each query attends to (default causal: (length + 1) / 2).
    """
    tokens = rows * length
    ctx = (length + 1) / 2 if context is None else context
    layers = 2.0 * tokens * layer_matmul_params(cfg) * cfg.num_layers
    attention = 4.0 * tokens * ctx * cfg.num_heads * cfg.head_dim * cfg.num_layers
    heads = rows * (length if head_positions is None else head_positions)
    head = 2.0 * heads * cfg.embed_dim * cfg.vocab_size
    return {"layers": layers, "attention": attention, "head": head}


def train_flops(cfg: Any, rows: int, length: int, head_positions: int | None = None) -> dict:
    """{"forward", "backward", "remat_recompute", "total"} of one train step."""
    f = forward_flops(cfg, rows, length, head_positions)
    fwd = sum(f.values())
    remat = 0.0
    if cfg.remat and "dots" not in cfg.remat_policy:  # the dots are recomputed
        remat = f["layers"] + f["attention"]
    return {"forward": fwd, "backward": 2 * fwd, "remat_recompute": remat,
            "total": 3 * fwd + remat}  # fmt: skip


def decode_flops(
    cfg: Any, batch: int, rows_per_prompt: int, prompt_len: int, decode_len: int
) -> dict:
    """One decode call: prefill of each prompt once, then `decode_len` tokens for every row."""
    pre = sum(forward_flops(cfg, batch, prompt_len, head_positions=1).values())
    rows = batch * rows_per_prompt
    gen = sum(
        forward_flops(cfg, rows, decode_len, context=prompt_len + (decode_len + 1) / 2).values()
    )
    return {"prefill": pre, "generate": gen, "total": pre + gen}


def roofline_seconds(flops_per_chip: float, hbm_bytes_per_chip: float, chip: Any) -> float:
    """Lower bound: the step can go no faster than its FLOPs at peak nor its bytes at full bandwidth."""
    return max(flops_per_chip / chip.peak_bf16_flops, hbm_bytes_per_chip / chip.hbm_bytes_per_s)
