"""Run one of the paper's comparisons: `python -m mathft_jax.experiment --gin_file=gin/experiments/scr.gin`.

Flags as for the other entry points (T5X style): --gin_file (repeatable), --gin.NAME=VALUE,
--gin_bindings, --gin_search_paths (the repo's gin/ folder is always searched). Experiments and
their stages are in `mathft_jax/recipes/experiments.py`; `--gin.ExperimentConfig.stop_after="'ssft'"`
ends the run after a stage.
"""

import os
import sys
from collections.abc import Sequence

from mathft_jax.gin_flags import GinBindingError, setup_gin


def main(argv: Sequence[str]) -> None:
    from mathft_jax.recipes import experiments, paper

    try:
        setup_gin(argv[1:], finalize=True)
    except GinBindingError as err:  # one line naming the binding, not a traceback
        raise SystemExit(f"error: {err}") from None
    experiments.run_experiment(paper.RecipeConfig(), experiments.ExperimentConfig())


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main(sys.argv)
