"""Training throughput: mathft_jax's jitted train step vs a plain PyTorch + transformers loop, on CPU.

    python -m mathft_jax.benchmarks.train [--sizes tiny,100m] [--repeats 3]

Both sides train the same architecture (`ModelConfig` -> `LlamaForCausalLM` via `to_hf_config`,
random weights) on the same dense batch (no padding, every target token weighted) with the same
update: token-mean cross-entropy (Eq. 3), global-norm clipping at 1.0, AdamW (lr 1e-4, betas
0.9/0.95, eps 1e-8, no weight decay). The mathft_jax side is the trainer's own step: the mesh,
logical-axis rules, shardings and `make_train_step` put together as `training/trainer.py` does,
jitted with the state donated, on one device. The PyTorch side is the textbook loop: forward,
loss, `backward`, `clip_grad_norm_`, `AdamW.step`. Each side runs in a process of its own
(`machine.SideProcess`), so its own-CPU figure is its own. After
one warm-up call per side (compilation, allocation) the sides alternate (A B A B ...), and medians
are reported beside the CPU seconds other processes used during the measured windows (from
/proc/stat), since the machine is shared.
Prints figures; it is not a test.

Measured 2026-12-02, 2 cores, nothing else running (other processes under 0.1 CPU-s a window):
tiny 1.09x (21195 vs 19464 tokens/s; 1.00x and 1.19x in two earlier runs that day), 100m 1.50x
(202 vs 135 tokens/s; 1.63x earlier). What moved the 100m figure from 0.89x: the JAX step faulted in
~320k fresh pages a step (XLA allocates outputs and temporaries anew on CPU), now 0, since every
mathft_jax job sets glibc to keep freed blocks (`host_memory`). The textbook torch loop does not;
`--torch_keep_freed_memory` gives it the same setting, and then the 100m ratio was 1.11x (198 vs 179).
"""

import argparse
import dataclasses
import os
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from mathft_jax import host_memory
from mathft_jax.benchmarks.machine import SideProcess, timed
from mathft_jax.models import ModelConfig, transformer
from mathft_jax.models.config import config_from_gin_file
from mathft_jax.runtime import partitioning
from mathft_jax.training import objectives, optimizers
from mathft_jax.training.train_state import TrainState, make_train_step

# The update both sides make (see the module docstring).
LEARNING_RATE = 1e-4
BETAS = (0.9, 0.95)
EPS = 1e-8
CLIP_NORM = 1.0


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    model_gin: str  # the model config, exactly as gin/models/*.gin gives it to the trainer
    batch: int
    length: int
    steps: int  # train steps per timed call


WORKLOADS = {
    # gin/models/tiny.gin: 0.54M parameters, byte vocabulary (384), GQA 4/2, 2 layers.
    "tiny": Workload("tiny", "models/tiny.gin", batch=8, length=128, steps=10),
    # gin/models/small_100m.gin: 100.1M parameters, 32k vocabulary, tied embeddings, GQA 12/4.
    # 512 tokens a step: a step takes seconds on 2 shared cores.
    "100m": Workload("100m", "models/small_100m.gin", batch=2, length=256, steps=1),
}

# A side: called once per timed window, it trains `steps` steps and returns the target tokens seen.
Side = Callable[[], float]


def make_batch(
    config: ModelConfig, batch: int, length: int, seed: int = 0
) -> dict[str, np.ndarray]:
    """A dense decoder-only batch (the feature converter's arrays), every position a target."""
    tokens = np.random.default_rng(seed).integers(1, config.vocab_size, (batch, length + 1))
    ones = np.ones((batch, length), np.int32)
    return {
        "decoder_input_tokens": tokens[:, :-1].astype(np.int32),  # targets shifted right
        "decoder_target_tokens": tokens[:, 1:].astype(np.int32),
        "decoder_loss_weights": ones,
        "decoder_positions": np.broadcast_to(np.arange(length, dtype=np.int32), (batch, length)),
        "decoder_segment_ids": ones,
    }


def jax_side(config: ModelConfig, batch: dict[str, np.ndarray], steps: int) -> Side:
    """The trainer's jitted, state-donating train step on one device (compiled on first call)."""
    mesh = partitioning.make_mesh(devices=jax.devices()[:1])
    rules = partitioning.logical_axis_rules()
    schedule = optimizers.make_schedule(1_000_000, LEARNING_RATE, warmup_steps=0, decay="constant")
    tx = optimizers.make_optimizer(
        schedule, name="adamw", weight_decay=0.0, b1=BETAS[0], b2=BETAS[1], eps=EPS,
        clip_norm=CLIP_NORM,
    )  # fmt: skip
    abstract = transformer.abstract_params(config)
    p_sh = partitioning.param_shardings(
        abstract, transformer.param_logical_axes(config), mesh, rules
    )
    o_sh = partitioning.opt_state_shardings(jax.eval_shape(tx.init, abstract), abstract, p_sh, mesh)
    replicated = NamedSharding(mesh, PartitionSpec())
    b_sh = partitioning.batch_sharding(mesh, rules)

    def logits_fn(params: Any, tokens: Any, positions: Any, segment_ids: Any) -> jax.Array:
        return transformer.Decoder(config).apply(
            {"params": params}, tokens, positions, segment_ids
        )[0]

    with mesh, nn.logical_axis_rules(rules):
        params = jax.jit(lambda r: transformer.init_params(config, r), out_shardings=p_sh)(
            jax.random.key(0)
        )
        state = TrainState(
            step=jax.device_put(jnp.asarray(0, jnp.int32), replicated),
            params=params,
            opt_state=jax.jit(tx.init, out_shardings=o_sh)(params),
        )
    step_fn = jax.jit(
        make_train_step(objectives.Objective("mle"), logits_fn, tx, schedule),
        out_shardings=(TrainState(step=replicated, params=p_sh, opt_state=o_sh), replicated),
        donate_argnums=0,
    )
    holder = [state]

    def run() -> float:
        counted = []
        with jax.set_mesh(mesh), nn.logical_axis_rules(rules):
            for _ in range(steps):
                # As in the trainer's loop: the host batch becomes a global array every step.
                holder[0], metrics = step_fn(holder[0], partitioning.global_batch(batch, b_sh))
                counted.append(metrics["target_tokens"])
        jax.block_until_ready(holder[0])
        return float(sum(jax.device_get(counted)))

    return run


def hf_side(config: ModelConfig, batch: dict[str, np.ndarray], steps: int) -> Side:
    """The same updates with a plain PyTorch loop around transformers' `LlamaForCausalLM`."""
    import torch  # lazy: benchmark-only dependency
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    hf_config = LlamaConfig(
        **{k: v for k, v in config.to_hf_config().items() if k != "architectures"}
    )
    model = LlamaForCausalLM(hf_config).train()
    opt = torch.optim.AdamW(
        model.parameters(), lr=LEARNING_RATE, betas=BETAS, eps=EPS, weight_decay=0.0
    )

    def run() -> float:
        counted = 0.0
        for _ in range(steps):
            inputs = torch.from_numpy(batch["decoder_input_tokens"]).long()
            targets = torch.from_numpy(batch["decoder_target_tokens"]).long()
            weights = torch.from_numpy(batch["decoder_loss_weights"]).float()
            positions = torch.from_numpy(np.ascontiguousarray(batch["decoder_positions"])).long()
            logits = model(
                input_ids=inputs, position_ids=positions
            ).logits  # [batch, length, vocab]
            nll = torch.nn.functional.cross_entropy(
                logits.float().flatten(0, 1), targets.flatten(), reduction="none"
            )
            num_tokens = weights.sum()
            loss = (nll * weights.flatten()).sum() / num_tokens.clamp(min=1.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
            opt.step()
            counted += float(num_tokens)
        return counted

    return run


def build_side(
    side: str, model_gin: str, batch: int, length: int, steps: int, keep_freed: bool
) -> Side:
    """A side for `SideProcess` (runs in the side's own process): "mathft_jax" or "hf_torch".

    `keep_freed`: glibc keeps freed blocks for reuse (`host_memory`), as every mathft_jax job sets
    it; the torch side gets it only with `--torch_keep_freed_memory`.
    """
    host_memory.keep_freed_memory(keep_freed)  # first, as cli.run_job does
    config = config_from_gin_file(model_gin)
    data = make_batch(config, batch, length)
    return {"mathft_jax": jax_side, "hf_torch": hf_side}[side](config, data, steps)


def measure(sides: dict[str, Any], repeats: int) -> dict[str, dict[str, list[float]]]:
    """Warms each side up once, then times them interleaved.

    `sides` maps a name to a `SideProcess` (each side alone in its process, as `bench` runs them)
    or to a plain callable (run here, in this process). Per side: wall seconds, CPU seconds of
    other processes and of the side itself, target tokens, warm-up seconds.
    """
    calls = {
        name: side.call if isinstance(side, SideProcess) else _in_this_process(side)
        for name, side in sides.items()
    }
    keys = ("wall", "other_cpu", "own_cpu", "tokens", "warmup_s")
    out: dict[str, dict[str, list[float]]] = {name: {k: [] for k in keys} for name in sides}
    for name, call in calls.items():
        out[name]["warmup_s"].append(call()[0])  # compile (JAX) / allocate (torch)
    for _ in range(repeats):
        for name, call in calls.items():
            wall, other, own, tokens = call()
            out[name]["own_cpu"].append(own)
            out[name]["wall"].append(wall)
            out[name]["other_cpu"].append(float("nan") if other is None else other)
            out[name]["tokens"].append(float(tokens))  # type: ignore[arg-type]
    return out


def _in_this_process(run: Side) -> Callable[[], tuple[float, float | None, float, float]]:
    def call() -> tuple[float, float | None, float, float]:
        own0 = os.times()
        wall, other, tokens = timed(run)
        own1 = os.times()
        return wall, other, max(0.0, own1.user + own1.system - own0.user - own0.system), tokens

    return call


def report(
    workload: Workload, config: ModelConfig, figures: dict[str, dict[str, list[float]]]
) -> float:
    """Prints each round and the medians; returns the tokens/s ratio mathft_jax / hf_torch."""
    tokens = {name: f["tokens"] for name, f in figures.items()}
    if len({t for ts in tokens.values() for t in ts}) != 1:
        raise AssertionError(f"the sides counted different target tokens per call: {tokens}")
    per_call = tokens["mathft_jax"][0]
    repeats = len(tokens["mathft_jax"])
    print(
        f"\n[{workload.name}] {config.num_params() / 1e6:.1f}M params, batch {workload.batch} x "
        f"{workload.length} = {workload.batch * workload.length} target tokens/step, "
        f"{workload.steps} steps/call, AdamW + clip 1.0, f32; warm-up "
        + ", ".join(f"{n} {f['warmup_s'][0]:.1f} s" for n, f in figures.items())
    )
    for r in range(repeats):
        print(
            f"  round {r}: "
            + " | ".join(
                f"{n} {per_call / f['wall'][r]:.1f} tokens/s (others {f['other_cpu'][r]:.2f} CPU-s)"
                for n, f in figures.items()
            )
        )
    rates, per_cpu = {}, {}
    for name, f in figures.items():
        wall = statistics.median(f["wall"])
        rates[name] = per_call / wall
        own = statistics.median(f["own_cpu"])
        per_cpu[name] = per_call / own if own > 0 else float("nan")
        print(
            f"  {name:10s} median {rates[name]:10.1f} tokens/s ({wall:.3f} s/call, own CPU "
            f"{own:.2f} s; other processes' CPU meanwhile: median "
            f"{statistics.median(f['other_cpu']):.2f} s)"
        )
    ratio = rates["mathft_jax"] / rates["hf_torch"]
    print(
        f"  ratio mathft_jax / hf_torch = {ratio:.2f}x (goal >= 1.0); target tokens per call: "
        f"{per_call:.0f} on both sides"
    )
    # Tokens per CPU-second of this process: less sensitive to how loaded the machine was.
    print(f"  tokens per own CPU-second ratio = {per_cpu['mathft_jax'] / per_cpu['hf_torch']:.2f}x")
    return ratio


def bench(workload: Workload, repeats: int, torch_keep_freed: bool = False) -> float:
    """Builds both sides for `workload`, each in its own process, times them, prints the ratio."""
    config = config_from_gin_file(workload.model_gin)
    shape = (workload.model_gin, workload.batch, workload.length, workload.steps)
    keep = {"mathft_jax": True, "hf_torch": torch_keep_freed}
    sides = {name: SideProcess(build_side, name, *shape, keep[name]) for name in keep}
    try:
        return report(workload, config, measure(sides, repeats))
    finally:
        for side in sides.values():
            side.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="tiny,100m", help="comma list of " + ",".join(WORKLOADS))
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument(
        "--torch_keep_freed_memory",
        action="store_true",
        help="give the torch side mathft_jax's glibc setting too (host_memory.keep_freed_memory)",
    )
    args = parser.parse_args(argv)
    import torch

    print(
        f"devices: {jax.devices()}, CPU cores: {os.cpu_count()}, torch threads: "
        f"{torch.get_num_threads()}"
    )
    for size in args.sizes.split(","):
        if size not in WORKLOADS:
            raise SystemExit(f"--sizes: unknown size {size!r}; expected {sorted(WORKLOADS)}")
        bench(WORKLOADS[size], args.repeats, args.torch_keep_freed_memory)


if __name__ == "__main__":
    main()
