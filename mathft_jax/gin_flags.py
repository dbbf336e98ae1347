"""T5X-style gin flags, shared by every entry point (train, decode, score, recipe).

`--gin_file=F` (repeatable), `--gin_bindings=B`, `--gin_search_paths=a,b` and the shorthand
`--gin.NAME=VALUE` for the binding `NAME = VALUE` (bare strings get quoted). The repo's `gin/`
folder is always a search path, so `--gin_file=ssft.gin` and `--gin_file=gin/ssft.gin` both work
from the repo root.
"""

import ast
import pathlib
from collections.abc import Sequence

import gin

GIN_DIR = pathlib.Path(__file__).resolve().parents[1] / "gin"


def _drop_package_resource_reader() -> None:
    """Stops gin reading `include "models/tiny.gin"` as a file of an importable package `models`.

    gin tries that reader for every search path, and the working directory comes first: any
    `models/` or `data/` folder there (or on sys.path, as tests/ is under pytest) shadows our
    files or crashes gin (a namespace package has no file). We never ship gin files as package
    resources, so plain files on the search paths are all we read. (`_FILE_READERS` is gin's
    private list; if it moves, gin keeps its default behaviour.)
    """
    try:
        from gin import config, resource_reader  # noqa: PLC0415
    except ImportError:
        return
    readers = getattr(config, "_FILE_READERS", None)
    if isinstance(readers, list):
        readers[:] = [r for r in readers if r[0] is not resource_reader.system_path_reader]


_drop_package_resource_reader()


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
