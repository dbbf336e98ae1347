"""Run the paper's whole recipe: `python -m mathft_jax.recipe --gin_file=gin/recipe_smoke.gin`.

Flags as for the other entry points (T5X style): --gin_file (repeatable), --gin.NAME=VALUE,
--gin_bindings, --gin_search_paths (the repo's gin/ folder is always searched). The stages and
their order are in `mathft_jax/recipes/paper.py`.
"""

import os
import sys
from collections.abc import Sequence

from mathft_jax.gin_flags import GinBindingError, setup_gin
from mathft_jax.locks import LockHeldError


def main(argv: Sequence[str]) -> None:
    from mathft_jax.recipes import base_model, paper, real_model

    try:
        setup_gin(argv[1:], finalize=True)
    except GinBindingError as err:  # one line naming the binding, not a traceback
        raise SystemExit(f"error: {err}") from None
    try:
        job = real_model.recipe_job()
        if job == "real_model":  # gin/real_model_smollm2.gin
            real_model.run_real_model_job()
        elif job == "base_model":  # gin/base_tiny_mod10.gin
            base_model.run_base_model(base_model.BaseModelConfig(), argv[1:])
        else:
            paper.run_recipe(paper.RecipeConfig())
    except LockHeldError as err:  # another recipe runs in WORK_DIR: name it, no traceback
        raise SystemExit(f"error: {err}") from None


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main(sys.argv)
