"""T5X-style gin flags, shared by every entry point (train, decode, score, recipe).

`--gin_file=F` (repeatable), `--gin_bindings=B`, `--gin_search_paths=a,b` and the shorthand
`--gin.NAME=VALUE` for the binding `NAME = VALUE` (bare strings get quoted). The repo's `gin/`
folder is always a search path, so `--gin_file=ssft.gin` and `--gin_file=gin/ssft.gin` both work
from the repo root.
"""

import ast
import difflib
import pathlib
from collections.abc import Iterator, Sequence
from typing import Any

import gin

GIN_DIR = pathlib.Path(__file__).resolve().parents[1] / "gin"
GIN_FILES: list[str] = []  # the --gin_file values of this job, in order (for error hints)


def _drop_package_resource_reader() -> None:
    """Stops gin reading `include "models/tiny.gin"` as a file of an importable package `models`.

    gin tries that reader for every search path, and the working directory comes first: any
    `models/` or `data/` folder there (or on sys.path, as tests/ is under pytest) shadows our
    files or crashes gin (a namespace package has no file). We never ship gin files as package
    resources, so plain files on the search paths are all we read. (`_FILE_READERS` is gin's
    private list; if it moves, gin keeps its default behaviour.)
    """
    try:
        from gin import config, resource_reader
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


class GinBindingError(ValueError):
    """A command-line binding that would be ignored or misread: names the binding at fault."""


def _macro_values() -> dict[str, Any]:
    """Macro name -> bound value, for every `NAME = value` gin holds now."""
    from gin import config  # lazy: gin's registry of bindings

    return {
        scope: params.get("value")
        for (scope, selector), params in config._CONFIG.items()
        if selector == "gin.macro" and scope
    }


def _references(value: Any) -> Iterator[str]:
    """Scoped selectors of every `%MACRO` / `@configurable` inside a bound value."""
    from gin import config

    if isinstance(value, config.ConfigurableReference):
        yield value.scoped_selector
    elif isinstance(value, dict):
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _references(item)


def _used_macros() -> set[str]:
    """Macros that some binding reads (`x = %NAME`), directly or through another macro."""
    from gin import config

    used = set()
    for params in config._CONFIG.values():
        for value in params.values():
            for selector in _references(value):
                scope, _, name = selector.rpartition("/")
                if name == "gin.macro" and scope:
                    used.add(scope)
    return used


def _binding_name(binding: str) -> str:
    return binding.partition("=")[0].strip()


def _same_kind(default: Any, value: Any) -> bool:
    """A command-line value may replace a file's value of the same kind (an int widens to float)."""
    if default is None or value is None or isinstance(default, type(value)):
        return True
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return False
    return not isinstance(default, int | float | str) or not isinstance(value, int | float | str)


def check_macro_bindings(bindings: Sequence[str], defaults: dict[str, Any]) -> None:
    """Stops a job whose command-line macro binding would be ignored or misread.

    A macro that no gin file reads (`--gin.TRAIN_STEPZ=5`) would be silently ignored; one whose
    value is of another kind than the gin file's (`TRAIN_STEPS='abc'` or `5.5` for an int) would
    fail deep in the job or be rounded. Both raise `GinBindingError` naming the binding, the
    nearest known macro or the expected kind. Configurable parameters (`train.x = ...`) are
    checked by gin itself.
    """
    bound = _macro_values()
    used = _used_macros()
    known = sorted(used | set(defaults))
    for binding in bindings:
        name = _binding_name(binding)
        if not name.isidentifier() or name not in bound:
            continue
        if name not in used:
            near = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {near[0]}?" if near else f"; known macros: {known}"
            raise GinBindingError(
                f"gin binding {binding!r}: no gin file uses the macro {name}{hint}"
            )
        if name in defaults and not _same_kind(defaults[name], bound[name]):
            raise GinBindingError(
                f"gin binding {binding!r}: {name} is {type(defaults[name]).__name__} in the gin "
                f"files ({name} = {defaults[name]!r}), got {type(bound[name]).__name__} "
                f"{bound[name]!r}"
            )


def setup_gin(argv: Sequence[str], finalize: bool = False) -> None:
    """Parses gin flags (argv without the program name) and applies them.

    Files are parsed first, then the bindings, so a misspelled or mistyped macro binding stops
    the job here (`check_macro_bindings`), before any work.
    """
    files, bindings, paths = parse_gin_flags(argv)
    GIN_FILES[:] = files
    for path in [*paths, ".", str(GIN_DIR)]:
        gin.add_config_file_search_path(path)
    gin.parse_config_files_and_bindings(files, [], finalize_config=False)
    defaults = _macro_values()
    gin.parse_config_files_and_bindings([], bindings, finalize_config=False)
    check_macro_bindings(bindings, defaults)
    if finalize:
        gin.finalize()
