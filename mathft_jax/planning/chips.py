"""TPU chips and topologies: HBM, peak bf16 FLOP/s and HBM bandwidth per chip, and compile-only
devices for a topology name such as "v5e:2x2" (libtpu on a CPU host; nothing runs on them).

Figures are Google's published per-chip numbers (cloud.google.com/tpu/docs/system-architecture-*).
"""

import dataclasses
import math
import os
import re
from typing import Any

GiB = 1024**3


@dataclasses.dataclass(frozen=True)
class Chip:
    name: str
    hbm_bytes: int
    peak_bf16_flops: float  # per chip, per second
    hbm_bytes_per_s: float
    dims: int  # topology dimensions (2: a 2-D torus of chips, 3: 3-D)
    accelerator_prefix: str  # TPU_ACCELERATOR_TYPE is f"{prefix}-{count}"
    cores_per_chip_in_name: int  # v4-8 / v5p-8 name TensorCores (2 a chip); v5litepod-4 names chips


CHIPS: dict[str, Chip] = {
    "v4": Chip("v4", 32 * GiB, 275e12, 1.228e12, 3, "v4", 2),
    "v5e": Chip("v5e", 16 * GiB, 197e12, 0.819e12, 2, "v5litepod", 1),
    "v5p": Chip("v5p", 95 * GiB, 459e12, 2.765e12, 3, "v5p", 2),
    "v6e": Chip("v6e", 32 * GiB, 918e12, 1.640e12, 2, "v6e", 1),
}
EXAMPLES = ("v5e:2x2", "v5e:4x4", "v6e:2x4", "v4:2x2x1", "v5p:2x2x1", "v5p:2x4x4")
_NAME = re.compile(r"^(v4|v5e|v5p|v6e):(\d+(?:x\d+)*)$")


class TopologyError(ValueError):
    """An unknown topology name or a mesh that does not match it; the message lists valid choices."""


def valid_choices() -> str:
    chips = ", ".join(f"{c.name} ({c.dims}-D, {c.hbm_bytes // GiB} GiB)" for c in CHIPS.values())
    return f"chips: {chips}; e.g. {', '.join(EXAMPLES)}"


def parse_topology(name: str) -> tuple[Chip, tuple[int, ...]]:
    """'v5p:2x4x4' -> (Chip, (2, 4, 4)); anything else raises TopologyError listing the choices."""
    m = _NAME.match(name.strip())
    if not m:
        raise TopologyError(
            f"unknown topology {name!r}; expected CHIP:AxB[xC] with {valid_choices()}"
        )
    chip = CHIPS[m.group(1)]
    dims = tuple(int(d) for d in m.group(2).split("x"))
    if len(dims) != chip.dims or min(dims) < 1:
        raise TopologyError(
            f"topology {name!r}: {chip.name} takes {chip.dims} dimensions; {valid_choices()}"
        )
    return chip, dims


def num_chips(name: str) -> int:
    return math.prod(parse_topology(name)[1])


def set_tpu_env(name: str) -> None:
    """Environment libtpu reads at start-up; set so it does not look for a real TPU VM."""
    chip, dims = parse_topology(name)
    count = math.prod(dims) * chip.cores_per_chip_in_name
    os.environ.setdefault("TPU_ACCELERATOR_TYPE", f"{chip.accelerator_prefix}-{count}")
    os.environ.setdefault("TPU_WORKER_HOSTNAMES", "localhost")
    os.environ.setdefault("TPU_WORKER_ID", "0")
    os.environ.setdefault("TPU_SKIP_MDS_QUERY", "1")
    os.environ.setdefault("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")  # compile only: share libtpu
    os.environ.setdefault("JAX_PLATFORMS", "cpu")  # the host runs nothing on TPU


def topology_devices(name: str) -> list[Any]:
    """Compile-only TPU devices of the topology (needs the `libtpu` package)."""
    parse_topology(name)
    set_tpu_env(name)
    from jax.experimental import topologies

    try:
        desc = topologies.get_topology_desc(topology_name=name, platform="tpu")
    except Exception as e:  # libtpu missing, or a shape libtpu does not build
        raise TopologyError(
            f"libtpu could not describe topology {name!r} ({type(e).__name__}: {e}); "
            f"{valid_choices()} (pip install libtpu, the version jax[tpu] pins)"
        ) from e
    return list(desc.devices)
