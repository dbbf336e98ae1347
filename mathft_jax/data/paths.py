"""Where data lives: environment variables (or gin/flags passing a path), never a path in code.

| variable | default |
|---|---|
| MATHFT_SHARED_DIR | `../shared` beside the repository |
| MATHFT_DATA_DIR | `$MATHFT_SHARED_DIR/data/math` (MATH jsonl or release tree, math500_ids.txt) |
| MATHFT_PRM800K_DIR | unset: PRM800K tasks then raise, naming the variable |
| MATHFT_ON_BAD_INPUT | `raise`: a malformed MATH/PRM800K line stops the job naming FILE:LINE; `skip`: skipped, counted and logged |
"""

import os
import pathlib


def shared_dir() -> pathlib.Path:
    """$MATHFT_SHARED_DIR, else `shared` beside the repository checkout."""
    default = pathlib.Path(__file__).resolve().parents[3] / "shared"
    return pathlib.Path(os.environ.get("MATHFT_SHARED_DIR", default))


def math_data_dir(data_dir: str | os.PathLike | None = None) -> pathlib.Path:
    """The MATH folder: the argument if given, else $MATHFT_DATA_DIR, else the shared default."""
    if data_dir:
        return pathlib.Path(data_dir)
    return pathlib.Path(os.environ.get("MATHFT_DATA_DIR", shared_dir() / "data" / "math"))


def prm800k_dir(path: str | os.PathLike | None = None) -> pathlib.Path:
    """The PRM800K folder (phase1_*.jsonl, phase2_*.jsonl): argument, else $MATHFT_PRM800K_DIR."""
    path = path or os.environ.get("MATHFT_PRM800K_DIR")
    if not path:
        raise ValueError(
            "PRM800K location unknown: set MATHFT_PRM800K_DIR or bind prm800k_dir in gin "
            "(folder of phase1_train.jsonl, phase2_train.jsonl, ...)"
        )
    return pathlib.Path(path)


ON_ERROR_CHOICES = ("raise", "skip")


def on_bad_input() -> str:
    """What the MATH and PRM800K readers do with a malformed line: $MATHFT_ON_BAD_INPUT."""
    policy = os.environ.get("MATHFT_ON_BAD_INPUT", "raise")
    if policy not in ON_ERROR_CHOICES:
        raise ValueError(f"MATHFT_ON_BAD_INPUT={policy!r}; expected one of {ON_ERROR_CHOICES}")
    return policy
