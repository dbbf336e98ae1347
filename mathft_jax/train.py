"""Train one stage: `python -m mathft_jax.train --gin_file=gin/ssft.gin [--gin.MODEL_DIR="'runs/x'"]`.

Flags (T5X style): --gin_file (repeatable), --gin_bindings, --gin.NAME=VALUE, --gin_search_paths
(default: the repo's gin/ folder). Multi-host: --coordinator_address, --num_processes,
--process_id (or env MATHFT_COORDINATOR_ADDRESS, MATHFT_NUM_PROCESSES, MATHFT_PROCESS_ID) start
`jax.distributed`; on CPU the collectives use gloo. The logic lives in `training/trainer.py`.
"""

import logging
import os
import pathlib
import sys
from collections.abc import Sequence

import gin

GIN_DIR = pathlib.Path(__file__).resolve().parents[1] / "gin"
_DIST_FLAGS = {
    "--coordinator_address": "MATHFT_COORDINATOR_ADDRESS",
    "--num_processes": "MATHFT_NUM_PROCESSES",
    "--process_id": "MATHFT_PROCESS_ID",
}


def split_argv(argv: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """(gin flags, distributed settings from flags, else env)."""
    gin_args, dist = [], {}
    for arg in argv:
        name, _, value = arg.partition("=")
        if name in _DIST_FLAGS:
            dist[name[2:]] = value
        else:
            gin_args.append(arg)
    for flag, env in _DIST_FLAGS.items():
        if flag[2:] not in dist and os.environ.get(env):
            dist[flag[2:]] = os.environ[env]
    return gin_args, dist


def init_distributed(dist: dict[str, str]) -> None:
    """Joins the processes of a multi-host run (no-op when no coordinator is given)."""
    import jax  # noqa: PLC0415

    if not dist.get("coordinator_address"):
        return
    # Only the CPU client uses this (GPU/TPU have their own collectives); it must precede any
    # backend initialisation, so it is set before we know which backend runs.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=dist["coordinator_address"],
        num_processes=int(dist["num_processes"]),
        process_id=int(dist["process_id"]),
    )


def parse_gin(argv: Sequence[str]) -> None:
    """Applies T5X-style gin flags; the repo's gin/ folder is always a search path."""
    from mathft_jax.inference.runtime import parse_gin_flags  # noqa: PLC0415

    files, bindings, paths = parse_gin_flags(argv)
    for path in [*paths, str(GIN_DIR), "."]:
        gin.add_config_file_search_path(path)
    gin.parse_config_files_and_bindings(files, bindings)


def main(argv: Sequence[str]) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    gin_args, dist = split_argv(argv)
    init_distributed(dist)
    parse_gin(gin_args)
    from mathft_jax.training import trainer  # noqa: PLC0415

    result = trainer.train()
    logging.getLogger("mathft_jax.train").info(
        "done: step %d (%s start)", result["step"], result["start"]
    )


if __name__ == "__main__":
    main(sys.argv[1:])
