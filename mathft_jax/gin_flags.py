"""T5X-style gin flags, shared by every entry point (train, decode, score, recipe).

`--gin_file=F` (repeatable), `--gin_bindings=B`, `--gin_search_paths=a,b` and the shorthand
`--gin.NAME=VALUE` for the binding `NAME = VALUE` (bare strings get quoted). The repo's `gin/`
folder is always a search path, so `--gin_file=ssft.gin` and `--gin_file=gin/ssft.gin` both work
from the repo root.
"""

import ast
import logging
import pathlib
from collections.abc import Sequence

import gin

GIN_DIR = pathlib.Path(__file__).resolve().parents[1] / "gin"


class _QuietGinSearch(logging.Filter):
    """Drops gin's per-attempt "Path not found" errors: it logs one for every search path it tries
    before the one that holds the file, which reads like a failure when nothing failed. A file that
    is truly missing still raises, naming the paths searched."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = str(record.msg)
        return not msg.startswith(("Path not found:", "system_path_file_exists:"))


logging.getLogger().addFilter(_QuietGinSearch())


def gin_literal(value: str) -> str:
    """Quotes a `--gin.X=value` unless it already is a gin literal or reference (5, 'a', @f, %X)."""
    if value.startswith(("@", "%")):
        return value
    try:
        ast.literal_eval(value)
        return value
    except (ValueError, SyntaxError):
        return repr(value)


def parse_gin_flags(argv: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """T5X-style flags -> (gin files, bindings, search paths); an unknown flag is an error."""
    files, bindings, paths = [], [], []
    for arg in argv:
        name, _, value = arg.partition("=")
        if name == "--gin_file":
            files.append(value)
        elif name == "--gin_bindings":
            bindings.append(value)
        elif name == "--gin_search_paths":
            paths.extend(p for p in value.split(",") if p)
        elif name.startswith("--gin."):
            bindings.append(f"{name[len('--gin.') :]} = {gin_literal(value)}")
        else:
            raise ValueError(
                f"unknown flag {arg!r}; expected --gin_file=, --gin_bindings=, --gin_search_paths= "
                "or --gin.NAME=VALUE"
            )
    if not files:
        raise ValueError("no --gin_file given (e.g. --gin_file=gin/ssft.gin)")
    return files, bindings, paths


def setup_gin(argv: Sequence[str], finalize: bool = False) -> None:
    """Parses gin flags (argv without the program name) and applies them."""
    files, bindings, paths = parse_gin_flags(argv)
    for path in [*paths, ".", str(GIN_DIR)]:
        gin.add_config_file_search_path(path)
    gin.parse_config_files_and_bindings(files, bindings, finalize_config=finalize)
