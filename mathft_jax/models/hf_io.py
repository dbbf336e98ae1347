"""Hugging Face checkpoint import/export: `config.json` + (sharded) `*.safetensors` <-> our params.

Import reads tensors lazily (`safe_open`), one layer at a time, and places each parameter straight
onto its sharding with `jax.make_array_from_callback`, so a device only ever receives its own shard
and the host never holds the whole model. Export writes `config.json` and size-sharded safetensors
(`model-0000i-of-0000n.safetensors` + `model.safetensors.index.json`) that `transformers` loads.

    cfg, params = load_hf_checkpoint("/ckpt/Llama-3.2-1B", shardings=None, dtype="bfloat16")
    save_hf_checkpoint("/tmp/out", cfg, params, max_shard_bytes=2 << 30)
"""

import dataclasses
import json
import pathlib
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import jax
import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from mathft_jax.errors import BadCheckpoint
from mathft_jax.models.config import ModelConfig
from mathft_jax.models.transformer import abstract_params

PathLike = str | pathlib.Path
INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"


@dataclasses.dataclass(frozen=True)
class _Rule:
    """How one of our parameters maps to one HF tensor (per layer when `layered`)."""

    hf_name: str  # with "{i}" for the layer index
    to_ours: Callable[[np.ndarray, ModelConfig], np.ndarray]
    to_hf: Callable[[np.ndarray, ModelConfig], np.ndarray]


def _same(x: np.ndarray, cfg: ModelConfig) -> np.ndarray:
    return x


def _transpose(x: np.ndarray, cfg: ModelConfig) -> np.ndarray:
    return x.T


def _proj_in(heads_attr: str) -> _Rule:
    """HF [heads * head_dim, embed] <-> ours [embed, heads, head_dim]."""
    return _Rule(
        "",
        lambda x, c: x.T.reshape(c.embed_dim, getattr(c, heads_attr), c.head_dim),
        lambda x, c: x.reshape(c.embed_dim, -1).T,
    )


def _bias(heads_attr: str) -> _Rule:
    return _Rule(
        "",
        lambda x, c: x.reshape(getattr(c, heads_attr), c.head_dim),
        lambda x, c: x.reshape(-1),
    )


def _rules(cfg: ModelConfig) -> tuple[dict[str, _Rule], dict[str, _Rule]]:
    """(global rules, per-layer rules), keyed by our '/'-joined parameter path."""
    top = {
        "embedding": _Rule("model.embed_tokens.weight", _same, _same),
        "final_norm/scale": _Rule("model.norm.weight", _same, _same),
    }
    if not cfg.tie_embeddings:
        top["lm_head"] = _Rule("lm_head.weight", _transpose, _transpose)
    p = "model.layers.{i}."
    per_layer = {
        "attn/q": dataclasses.replace(_proj_in("num_heads"), hf_name=p + "self_attn.q_proj.weight"),
        "attn/k": dataclasses.replace(
            _proj_in("num_kv_heads"), hf_name=p + "self_attn.k_proj.weight"
        ),
        "attn/v": dataclasses.replace(
            _proj_in("num_kv_heads"), hf_name=p + "self_attn.v_proj.weight"
        ),
        "attn/o": _Rule(
            p + "self_attn.o_proj.weight",
            lambda x, c: x.T.reshape(c.num_heads, c.head_dim, c.embed_dim),
            lambda x, c: x.reshape(-1, c.embed_dim).T,
        ),
        "mlp/gate": _Rule(p + "mlp.gate_proj.weight", _transpose, _transpose),
        "mlp/up": _Rule(p + "mlp.up_proj.weight", _transpose, _transpose),
        "mlp/down": _Rule(p + "mlp.down_proj.weight", _transpose, _transpose),
        "pre_attn_norm/scale": _Rule(p + "input_layernorm.weight", _same, _same),
    }
    if cfg.qkv_bias:
        for name, heads in (("q", "num_heads"), ("k", "num_kv_heads"), ("v", "num_kv_heads")):
            rule = dataclasses.replace(_bias(heads), hf_name=p + f"self_attn.{name}_proj.bias")
            per_layer[f"attn/{name}_bias"] = rule
    if cfg.post_norms:  # Gemma 2 names its four norms differently
        per_layer["post_attn_norm/scale"] = _Rule(
            p + "post_attention_layernorm.weight", _same, _same
        )
        per_layer["pre_mlp_norm/scale"] = _Rule(
            p + "pre_feedforward_layernorm.weight", _same, _same
        )
        per_layer["post_mlp_norm/scale"] = _Rule(
            p + "post_feedforward_layernorm.weight", _same, _same
        )
    else:
        per_layer["pre_mlp_norm/scale"] = _Rule(p + "post_attention_layernorm.weight", _same, _same)
    return top, per_layer


def _path_str(path: tuple[Any, ...]) -> str:
    return "/".join(str(getattr(k, "key", k)) for k in path)


def _split_layer(path: str, cfg: ModelConfig) -> tuple[str, int | None]:
    """'layer_3/attn/q' -> ('attn/q', 3); 'layers/attn/q' -> ('attn/q', None); 'embedding' -> same."""
    head, _, rest = path.partition("/")
    if head == "layers":
        return rest, None
    if head.startswith("layer_"):
        return rest, int(head[len("layer_") :])
    return path, -1


def is_hf_checkpoint(path: PathLike) -> bool:
    """True for a folder holding `config.json` and safetensors weights."""
    path = pathlib.Path(path)
    has_weights = (path / INDEX_FILE).exists() or (path / SINGLE_FILE).exists()
    return (path / "config.json").is_file() and has_weights


def load_hf_config(path: PathLike, **overrides: Any) -> ModelConfig:
    """`ModelConfig` of the checkpoint in `path`; `overrides` set our own fields (dtype, remat, ...)."""
    config_file = pathlib.Path(path) / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file} not found: not a Hugging Face checkpoint folder")
    return ModelConfig.from_hf_config(json.loads(config_file.read_text()), **overrides)


def check_safetensors_file(file: pathlib.Path) -> None:
    """Raises ValueError naming `file` when it is shorter than its header says (truncated copy)
    or its header is unreadable, before any tensor is read."""
    size = file.stat().st_size
    try:
        with file.open("rb") as f:
            header_len = int.from_bytes(f.read(8), "little")
            if header_len > size:
                raise ValueError(f"header length {header_len} exceeds the file")
            header = json.loads(f.read(header_len))
        need = (
            8
            + header_len
            + max(
                (t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0
            )
        )
    except (ValueError, KeyError, TypeError) as err:
        raise BadCheckpoint(f"{file}: not a readable safetensors file ({err})") from None
    if size < need:
        raise BadCheckpoint(f"{file}: truncated ({size} bytes, its header needs {need})")


def _weight_map(path: pathlib.Path) -> dict[str, pathlib.Path]:
    """HF tensor name -> the safetensors file holding it."""
    if (path / INDEX_FILE).exists():
        index = json.loads((path / INDEX_FILE).read_text())
        return {name: path / file for name, file in index["weight_map"].items()}
    if (path / SINGLE_FILE).exists():
        check_safetensors_file(path / SINGLE_FILE)
        with safe_open(path / SINGLE_FILE, framework="numpy") as f:
            return dict.fromkeys(f.keys(), path / SINGLE_FILE)
    raise FileNotFoundError(f"{path}: neither {INDEX_FILE} nor {SINGLE_FILE} found")


def load_hf_checkpoint(
    path: PathLike, shardings: Any = None, **overrides: Any
) -> tuple[ModelConfig, Any]:
    """Reads a HF checkpoint folder into (config, params).

    Args:
      path: folder with `config.json` and `model.safetensors` or a sharded set with its index.
      shardings: None (default device), one `jax.sharding.Sharding` for every parameter, or a
        pytree of them with the structure of the params (build it from `load_hf_config(path,
        **overrides)` and `transformer.param_logical_axes`).
      **overrides: `ModelConfig` fields to set (e.g. `param_dtype="bfloat16"`, `scan_layers=False`).
    Returns:
      (cfg, params) with params in `cfg.param_dtype`, laid out as `Decoder(cfg)` expects.
    """
    path = pathlib.Path(path)
    cfg = load_hf_config(path, **overrides)
    for file in sorted(set(_weight_map(path).values())):
        check_safetensors_file(file)
    weight_map = _weight_map(path)
    with ExitStack() as stack:
        handles: dict[pathlib.Path, Any] = {}

        def read(name: str) -> np.ndarray:
            if name not in weight_map:
                raise KeyError(f"{path}: tensor {name!r} missing from the checkpoint")
            file = weight_map[name]
            if file not in handles:
                handles[file] = stack.enter_context(safe_open(file, framework="numpy"))
            return handles[file].get_tensor(name)

        return cfg, params_from_tensors(cfg, read, shardings, where=str(path))


def params_from_tensors(
    cfg: ModelConfig, read: Callable[[str], np.ndarray], shardings: Any = None, where: str = ""
) -> Any:
    """Our params from `read(hf_tensor_name) -> array` (HF layout), placed as `shardings` says.

    Shared by `load_hf_checkpoint` (safetensors) and `gguf_io.load_gguf_checkpoint` (GGUF).
    """
    top, per_layer = _rules(cfg)
    shapes = abstract_params(cfg)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(shapes)
    if shardings is None or isinstance(shardings, jax.sharding.Sharding):
        sharding_leaves = [shardings] * len(leaves)
    else:
        try:
            sharding_leaves = treedef.flatten_up_to(shardings)
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"{where}: `shardings` does not match the params of {cfg} (build it from "
                "load_hf_config(path, **overrides) with the same overrides, e.g. scan_layers)"
            ) from err

    out = []
    for (key_path, shape), sharding in zip(leaves, sharding_leaves):
        ours, layer = _split_layer(_path_str(key_path), cfg)
        rule = (top if layer == -1 else per_layer).get(ours)
        if rule is None:
            raise KeyError(f"no HF mapping for parameter {_path_str(key_path)!r}")
        dtype = shape.dtype

        def one(i: int, rule: _Rule = rule, dtype: Any = dtype) -> np.ndarray:
            return np.asarray(rule.to_ours(read(rule.hf_name.format(i=i)), cfg), dtype=dtype)

        if layer is None:  # stacked over layers: read only the layers a shard needs

            def fetch(index: tuple[slice, ...], one: Callable = one) -> np.ndarray:
                layers = range(cfg.num_layers)[index[0]]
                return np.stack([one(i)[index[1:]] for i in layers])

        else:  # one tensor: read it once, hand out slices
            tensor = one(max(layer, 0))

            def fetch(index: tuple[slice, ...], tensor: np.ndarray = tensor) -> np.ndarray:
                return tensor[index]

        full = tuple(slice(None) for _ in shape.shape)
        if sharding is None:
            array = jax.device_put(fetch(full))
        else:
            array = jax.make_array_from_callback(shape.shape, sharding, fetch)
        if array.shape != shape.shape:
            raise ValueError(
                f"{where}: {_path_str(key_path)} has shape {array.shape}, expected {shape.shape}"
            )
        out.append(array)
    return jax.tree_util.tree_unflatten(treedef, out)


def _hf_tensors(cfg: ModelConfig, params: Any) -> dict[str, np.ndarray]:
    """Our params -> {HF name: host array}, split per layer."""
    top, per_layer = _rules(cfg)
    tensors: dict[str, np.ndarray] = {}
    for key_path, value in jax.tree_util.tree_flatten_with_path(params)[0]:
        ours, layer = _split_layer(_path_str(key_path), cfg)
        rule = (top if layer == -1 else per_layer).get(ours)
        if rule is None:
            raise KeyError(f"no HF mapping for parameter {_path_str(key_path)!r}")
        host = np.asarray(jax.device_get(value))
        if layer is None:
            for i in range(cfg.num_layers):
                tensors[rule.hf_name.format(i=i)] = rule.to_hf(host[i], cfg)
        else:
            tensors[rule.hf_name.format(i=layer)] = rule.to_hf(host, cfg)
    return {name: np.ascontiguousarray(x) for name, x in tensors.items()}


def save_hf_checkpoint(
    path: PathLike, cfg: ModelConfig, params: Any, max_shard_bytes: int = 5 * 2**30
) -> list[pathlib.Path]:
    """Writes `config.json` and safetensors (sharded by size, with an index when > 1 file).

    Returns the weight files written. Parameters keep their dtype; arrays are gathered to host.
    """
    path = pathlib.Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tensors = _hf_tensors(cfg, params)
    shards: list[dict[str, np.ndarray]] = [{}]
    size = 0
    for name, x in tensors.items():
        if shards[-1] and size + x.nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = x
        size += x.nbytes
    hf_config = cfg.to_hf_config()
    (path / "config.json").write_text(json.dumps(hf_config, indent=2) + "\n")
    if len(shards) == 1:
        names = [SINGLE_FILE]
    else:
        names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    for name, shard in zip(names, shards):
        save_file(shard, str(path / name), metadata={"format": "pt"})
    if len(shards) > 1:
        index = {
            "metadata": {"total_size": sum(x.nbytes for x in tensors.values())},
            "weight_map": {t: name for name, shard in zip(names, shards) for t in shard},
        }
        (path / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")
    return [path / name for name in names]
