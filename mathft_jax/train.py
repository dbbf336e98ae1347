"""Train one stage: `python -m mathft_jax.train --gin_file=gin/ssft.gin [--gin.MODEL_DIR="'runs/x'"]`.

Flags (T5X style): --gin_file (repeatable), --gin_bindings, --gin.NAME=VALUE, --gin_search_paths
(the repo's gin/ folder is always searched). Multi-host: --coordinator_address, --num_processes,
--process_id, or the env of `mathft_jax.distributed` (MATHFT_COORDINATOR_ADDRESS, ...,
MATHFT_MULTIHOST=1 on TPU pods). The logic lives in `training/trainer.py`.
"""

import logging
import sys
from collections.abc import Sequence

from mathft_jax import cli, gin_flags


def parse_gin(argv: Sequence[str]) -> None:
    """Applies T5X-style gin flags; the repo's gin/ folder is always a search path."""
    gin_flags.setup_gin(argv)


def _train() -> None:
    from mathft_jax.training import trainer

    result = trainer.train()
    logging.getLogger("mathft_jax.train").info(
        "done: step %d (%s start)", result["step"], result["start"]
    )


def main(argv: Sequence[str]) -> None:
    cli.run_job(argv, _train)


if __name__ == "__main__":
    main(sys.argv[1:])
