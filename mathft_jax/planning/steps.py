"""The jobs' own step functions, lowered with the jobs' mesh, logical-axis rules and shardings on
compile-only devices: the train step of the gin-bound objective (`train_state.make_train_step`
exactly as `trainer.train` jits it), decode (`inference.decoding.decode`, N samples with the KV
cache) and verifier scoring (`inference.scoring.verifier_scores`).

Every figure comes from gin as the job would read it (`train.*`, `run_decode.*`, `run_score.*`).
"""

import dataclasses
import math
from typing import Any

import flax.linen as nn
import gin
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mathft_jax.planning import chips

FEATURES = (
    "decoder_input_tokens",
    "decoder_target_tokens",
    "decoder_loss_weights",
    "decoder_positions",
    "decoder_segment_ids",
)


@dataclasses.dataclass
class Lowered:
    """A lowered step plus what the planner reports next to the compiler's figures."""

    stage: str
    lowered: Any
    cfg: Any
    mesh: Mesh
    batch: int
    length: int
    param_bytes: int  # per chip
    opt_state_bytes: int  # per chip
    cache_bytes: int  # per chip
    flops: dict[str, float]
    details: dict[str, Any]


def register_configurables() -> None:
    """Imports the job modules whose configurables the stage gin files bind (train, decode, score)."""
    import mathft_jax.decode  # noqa: F401
    import mathft_jax.inference.runtime  # noqa: F401
    import mathft_jax.score  # noqa: F401
    import mathft_jax.training.trainer  # noqa: F401


def gin_value(name: str, default: Any = None) -> Any:
    """A binding as the configurable would receive it (macros and @refs evaluated)."""
    try:
        value = gin.query_parameter(name)
    except ValueError:
        return default
    if isinstance(value, gin.config.ConfigurableReference):
        return value.scoped_configurable_fn() if value.evaluate else value
    return value


def per_chip_bytes(tree: Any, shardings: Any) -> int:
    """Bytes one device holds of a pytree of ShapeDtypeStructs under `shardings`."""
    total = 0
    for a, s in zip(jax.tree.leaves(tree), jax.tree.leaves(shardings), strict=True):
        shape = s.shard_shape(a.shape)
        total += math.prod(shape) * np.dtype(a.dtype).itemsize
    return int(total)


def mesh_for(devices: list[Any], topology: str) -> Mesh:
    """The job's mesh (`make_mesh` from gin) on the topology's devices; a mismatch lists choices."""
    from mathft_jax.runtime import partitioning

    try:
        return partitioning.make_mesh(devices=devices)
    except ValueError as e:
        n = len(devices)
        divisors = [d for d in range(1, n + 1) if n % d == 0]
        raise chips.TopologyError(
            f"{e}. Topology {topology} has {n} chips: make_mesh.shape (data, fsdp, tensor) must "
            f"multiply to {n} (one entry may be -1), each a divisor of {n} {divisors}, e.g. "
            f"(1, -1, 1) fsdp, (-1, 1, 1) data, (1, -1, {min(4, n)}) fsdp x tensor"
        ) from e


def _sds(tree: Any, shardings: Any) -> Any:
    return jax.tree.map(
        lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), tree, shardings
    )


def _param_shardings(cfg: Any, mesh: Mesh, rules: Any) -> tuple[Any, Any]:
    from mathft_jax.models import transformer
    from mathft_jax.runtime import partitioning

    abstract = transformer.abstract_params(cfg)
    sh = partitioning.param_shardings(abstract, transformer.param_logical_axes(cfg), mesh, rules)
    return abstract, sh


def lower_train(devices: list[Any], topology: str, batch_size: int | None = None) -> Lowered:
    """The train step of `train.objective` at `TrainLoopConfig.batch_size` x sum(TASK_FEATURE_LENGTHS)."""
    from mathft_jax.models import ModelConfig
    from mathft_jax.runtime import partitioning
    from mathft_jax.training import objectives, optimizers, output_head
    from mathft_jax.training.train_state import TrainState, make_train_step

    cfg = gin_value("train.model_config") or ModelConfig()
    obj = gin_value("train.objective") or objectives.Objective()
    if obj.needs_labels and obj.label_ids is None:  # shapes only: any two distinct ids
        obj = objectives.Objective(obj.kind, obj.margin, obj.alpha, (1, 2))
    batch = batch_size or gin_value("TrainLoopConfig.batch_size")
    accum = gin_value("TrainLoopConfig.accum_steps", 1) or 1
    lengths = gin_value("TrainLoopConfig.feature_lengths")
    length = int(sum(lengths.values()))
    steps = gin_value("TrainLoopConfig.train_steps", 1000) or 1000
    mesh = mesh_for(devices, topology)
    rules = partitioning.logical_axis_rules()
    shards = partitioning.batch_shards(mesh, rules)
    if batch % (shards * accum):
        raise ValueError(
            f"BATCH_SIZE={batch} must divide by batch shards ({shards}) x accum ({accum})"
        )
    schedule = optimizers.make_schedule(steps)
    tx = optimizers.make_optimizer(schedule)
    abstract, p_sh = _param_shardings(cfg, mesh, rules)
    opt_abstract = jax.eval_shape(tx.init, abstract)
    o_sh = partitioning.opt_state_shardings(opt_abstract, abstract, p_sh, mesh)
    replicated = NamedSharding(mesh, PartitionSpec())
    state_sh = TrainState(step=replicated, params=p_sh, opt_state=o_sh)
    b_sh = partitioning.batch_sharding(mesh, rules)
    state = _sds(
        TrainState(
            step=jax.ShapeDtypeStruct((), jnp.int32), params=abstract, opt_state=opt_abstract
        ),
        state_sh,
    )
    group = {k: jax.ShapeDtypeStruct((batch, length), jnp.int32, sharding=b_sh) for k in FEATURES}
    groups = ["pos", "neg"] + (["gen"] if obj.kind.startswith("joint") else [])
    batch_in = {g: dict(group) for g in groups} if obj.is_pair else group
    model = output_head.decoder_model(cfg)
    step = make_train_step(obj, model, tx, schedule, accum)
    with jax.set_mesh(mesh), nn.logical_axis_rules(rules):
        lowered = jax.jit(step, out_shardings=(state_sh, replicated), donate_argnums=0).lower(
            state, batch_in
        )
    from mathft_jax.planning import flops

    n_groups = len(groups) if obj.is_pair else 1
    head_pos = 1 if obj.kind == "verifier_xent" else None
    f = flops.train_flops(cfg, batch * n_groups, length, head_pos)
    if obj.kind in ("verifier_margin",):
        f = flops.train_flops(cfg, batch * 2, length, 1)
    return Lowered(
        "train", lowered, cfg, mesh, batch, length,
        per_chip_bytes(abstract, p_sh), per_chip_bytes(opt_abstract, o_sh), 0, f,
        {"objective": obj.kind, "accum_steps": accum, "groups": n_groups,
         "param_dtype": cfg.param_dtype, "dtype": cfg.dtype},
    )  # fmt: skip


def _inference_mesh(devices: list[Any], topology: str, cfg: Any) -> tuple[Mesh, Any, Any, Any]:
    from mathft_jax.inference import generation
    from mathft_jax.runtime import partitioning

    mesh = mesh_for(devices, topology)
    rules = partitioning.logical_axis_rules()
    abstract, p_sh = _param_shardings(cfg, mesh, rules)
    return mesh, abstract, p_sh, generation.batch_sharding(mesh)


def _data_shards(sharding: NamedSharding) -> int:
    axes = sharding.spec[0] or ()
    axes = (axes,) if isinstance(axes, str) else axes
    return int(np.prod([sharding.mesh.shape[a] for a in axes]))


def lower_decode(
    devices: list[Any], topology: str, batch_size: int | None = None, num_samples: int | None = None
) -> Lowered:
    """`decoding.decode` as `run_decode` calls it: batch problems x (N + greedy) rows, KV cache."""
    from mathft_jax.inference import decoding, runtime
    from mathft_jax.inference.sampling import SamplingConfig
    from mathft_jax.models import ModelConfig
    from mathft_jax.planning import flops

    cfg = gin_value("load_model.model_config") or ModelConfig()
    cache_dtype = np.dtype(gin_value("load_model.cache_dtype", "float32") or "float32")
    unstack = bool(gin_value("load_model.unstack_layers", True))
    batch = batch_size or gin_value("run_decode.batch_size", 8)
    n = num_samples or gin_value("run_decode.num_samples", 64)
    greedy = bool(gin_value("run_decode.include_greedy", True))
    prompt_len = gin_value("run_decode.max_prompt_len", 512)
    decode_len = gin_value("run_decode.max_decode_len", 512)
    mesh, abstract, p_sh, b_sh = _inference_mesh(devices, topology, cfg)
    if batch % _data_shards(b_sh):
        raise ValueError(
            f"run_decode.batch_size={batch} must divide by {_data_shards(b_sh)} shards"
        )
    params = _sds(abstract, p_sh)
    tokens = jax.ShapeDtypeStruct((batch, prompt_len), jnp.int32, sharding=b_sh)
    keys = jax.eval_shape(lambda: decoding.problem_keys(0, np.arange(batch)))
    keys = jax.ShapeDtypeStruct(keys.shape, keys.dtype, sharding=NamedSharding(
        mesh, PartitionSpec(*(b_sh.spec[:1] + (None,) * (len(keys.shape) - 1)))))  # fmt: skip
    model = decoding.decoder_fns(cfg, cache_dtype, unstack)
    with jax.set_mesh(mesh):
        lowered = decoding.decode.lower(
            params, tokens, tokens, keys, model=model,
            config=decoding.DecodeConfig(
                num_samples=n, max_decode_len=decode_len, sampling=SamplingConfig(),
                include_greedy=greedy, batch_size=batch, max_prompt_len=prompt_len,
            ),
        )  # fmt: skip
    rows = batch * (n + int(greedy))
    kv = 2 * cfg.num_layers * cfg.num_kv_heads * cfg.head_dim * cache_dtype.itemsize
    cache_total = kv * (
        rows * decode_len + batch * prompt_len
    )  # own slots + one shared prompt copy
    cache_chip = cache_total // _data_shards(b_sh)  # rows split over the data shards
    del runtime
    return Lowered(
        "decode", lowered, cfg, mesh, batch, prompt_len + decode_len,
        per_chip_bytes(abstract, p_sh), 0, int(cache_chip),
        flops.decode_flops(cfg, batch, n + int(greedy), prompt_len, decode_len),
        {"num_samples": n, "include_greedy": greedy, "rows": rows, "prompt_len": prompt_len,
         "decode_len": decode_len, "cache_dtype": str(cache_dtype), "unstack_layers": unstack,
         "cache_total_bytes": int(cache_total)},
    )  # fmt: skip


def lower_score(devices: list[Any], topology: str, batch_size: int | None = None) -> Lowered:
    """`scoring.verifier_scores` at `run_score.batch_size` x `run_score.max_len`."""
    from mathft_jax.inference import decoding, scoring
    from mathft_jax.models import ModelConfig
    from mathft_jax.planning import flops

    cfg = gin_value("load_model.model_config") or ModelConfig()
    batch = batch_size or gin_value("run_score.batch_size", 32)
    length = gin_value("run_score.max_len", 1024)
    mesh, abstract, p_sh, b_sh = _inference_mesh(devices, topology, cfg)
    if batch % _data_shards(b_sh):
        raise ValueError(f"run_score.batch_size={batch} must divide by {_data_shards(b_sh)} shards")
    tokens = jax.ShapeDtypeStruct((batch, length), jnp.int32, sharding=b_sh)
    ids = jax.ShapeDtypeStruct((2,), jnp.int32, sharding=NamedSharding(mesh, PartitionSpec()))
    model = decoding.decoder_fns(cfg)
    with jax.set_mesh(mesh):
        lowered = scoring.verifier_scores.lower(
            _sds(abstract, p_sh), tokens, tokens, ids, model=model
        )
    f = flops.forward_flops(cfg, batch, length, head_positions=1)
    return Lowered(
        "score",
        lowered,
        cfg,
        mesh,
        batch,
        length,
        per_chip_bytes(abstract, p_sh),
        0,
        0,
        {"forward": sum(f.values()), "total": sum(f.values())},
        {},
    )


LOWER = {"train": lower_train, "decode": lower_decode, "score": lower_score}
