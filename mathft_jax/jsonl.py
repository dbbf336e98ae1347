"""JSON lines read as bytes: every bad line is an error naming FILE:LINE and what is wrong.

Shared by the candidates file (`mathft_jax.candidates`) and the MATH/PRM800K readers
(`mathft_jax.data.readers`). A line is decoded as UTF-8 on its own, so a stray byte is reported
where it is (`FILE:LINE: not UTF-8 (byte 0xff at column 12)`) instead of as a bare
`UnicodeDecodeError` from the middle of a text-mode read, and a caller that skips bad lines can
skip just that one. No JAX, TensorFlow or data import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any


class LineError(ValueError):
    """One line that is not UTF-8 or not JSON; `why` says what, without the FILE:LINE prefix."""

    def __init__(self, where: str, why: str):
        super().__init__(f"{where}: {why}")
        self.where, self.why = where, why


def json_error_text(err: json.JSONDecodeError) -> str:
    """`err` as "what at column N" (json's own messages such as "Unterminated string starting
    at" already end in "at": no "at at column")."""
    msg = err.msg.rstrip()
    return f"{msg} column {err.colno}" if msg.endswith(" at") else f"{msg} at column {err.colno}"


def decode_line(raw: bytes, where: str) -> str:
    """`raw` as text; a byte that is not UTF-8 raises `LineError` naming its value and column."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        column = len(raw[: err.start].decode("utf-8", errors="replace")) + 1
        raise LineError(
            where, f"not UTF-8 (byte 0x{raw[err.start]:02x} at column {column})"
        ) from None


def parse_line(raw: bytes, where: str) -> Any:
    """One JSON value from one line of bytes; bad UTF-8 or bad JSON raises `LineError`."""
    text = decode_line(raw, where)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise LineError(where, f"not valid JSON ({json_error_text(err)})") from None


def numbered_lines(lines: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number from 1, bytes) of each non-blank line."""
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            yield number, raw
