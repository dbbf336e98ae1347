"""Joins the processes of a multi-host job with `jax.distributed` (train, decode and score).

Where the settings come from, first found wins:
  1. flags `--coordinator_address=H:P --num_processes=N --process_id=I`;
  2. env `MATHFT_COORDINATOR_ADDRESS`, `MATHFT_NUM_PROCESSES`, `MATHFT_PROCESS_ID`
     (launch/local.sh and launch/gpu_slurm.sh set these);
  3. env `MATHFT_MULTIHOST=1` (launch/tpu_pod.sh): `jax.distributed.initialize()` without
     arguments, which reads the cluster from the TPU VM metadata (or SLURM's environment).
With none of them the job is a single process. On CPU the collectives use gloo.
"""

import logging
import os
from collections.abc import Sequence

log = logging.getLogger(__name__)

FLAGS_TO_ENV = {
    "--coordinator_address": "MATHFT_COORDINATOR_ADDRESS",
    "--num_processes": "MATHFT_NUM_PROCESSES",
    "--process_id": "MATHFT_PROCESS_ID",
}
MULTIHOST_ENV = "MATHFT_MULTIHOST"


def split_flags(
    argv: Sequence[str], environ: dict[str, str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """(the other flags, distributed settings from flags, else env)."""
    environ = os.environ if environ is None else environ
    rest, settings = [], {}
    for arg in argv:
        name, _, value = arg.partition("=")
        if name in FLAGS_TO_ENV:
            settings[name[2:]] = value
        else:
            rest.append(arg)
    for flag, env in FLAGS_TO_ENV.items():
        if flag[2:] not in settings and environ.get(env):
            settings[flag[2:]] = environ[env]
    if environ.get(MULTIHOST_ENV, "") not in ("", "0"):
        settings.setdefault("auto", "1")
    return rest, settings


def initialize(settings: dict[str, str]) -> None:
    """Starts `jax.distributed` as `settings` ask (see the module docstring); no-op when empty.

    Must run before anything touches a JAX backend.
    """
    import jax

    if not settings:
        return
    explicit = bool(settings.get("coordinator_address"))
    missing = [k for k in ("num_processes", "process_id") if explicit and not settings.get(k)]
    if missing:
        raise ValueError(
            f"--coordinator_address given without --{' --'.join(missing)} "
            f"(or env {', '.join(FLAGS_TO_ENV['--' + k] for k in missing)})"
        )
    # Only the CPU client reads this (GPU/TPU have their own collectives); it must be set before
    # any backend exists, so before we know which one runs.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if explicit:
        jax.distributed.initialize(
            coordinator_address=settings["coordinator_address"],
            num_processes=int(settings["num_processes"]),
            process_id=int(settings["process_id"]),
        )
    else:  # MATHFT_MULTIHOST=1: the cluster environment describes the job
        jax.distributed.initialize()
    log.info(
        "jax.distributed: process %d of %d, %d local / %d global devices",
        jax.process_index(),
        jax.process_count(),
        jax.local_device_count(),
        jax.device_count(),
    )
