"""How busy the machine was while a benchmark side ran: the figure printed beside every timing,
since 2 shared cores make wall times noisy; and `SideProcess`, which runs a side in a process of its
own. Shared by the grading, train and decode benchmarks."""

import multiprocessing
import os
import pathlib
import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def busy_ticks() -> int | None:
    """Busy CPU time of the whole machine in clock ticks (all but idle and iowait); None off Linux."""
    try:
        fields = pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    values = [int(v) for v in fields]
    return sum(values) - values[3] - (values[4] if len(values) > 4 else 0)


def timed(fn: Callable[[], T]) -> tuple[float, float | None, T]:
    """(wall seconds, CPU seconds other processes used meanwhile, fn's result) of one call."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy0, own0, t0 = busy_ticks(), os.times(), time.perf_counter()
    result = fn()
    wall, busy1, own1 = time.perf_counter() - t0, busy_ticks(), os.times()
    if busy0 is None or busy1 is None:
        return wall, None, result
    own = sum(own1[i] - own0[i] for i in range(4))  # user, system, children user/system
    return wall, max(0.0, (busy1 - busy0) / tick - own), result


class SideProcess:
    """One benchmark side in a process of its own, called one at a time (A B A B ...).

    Each side then has the machine as a real job would (its own thread pools, allocator and CPU
    accounting: "own CPU" is that side's alone), and neither side's pools or spin-waits run inside
    the other's timing window. `factory(*args)` runs in the child (so it must be a module-level
    function) and returns the side: a no-argument callable.
    """

    def __init__(self, factory: Callable[..., Callable[[], T]], *args: object):
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(factory, args, child), daemon=True)
        self._proc.start()
        child.close()
        self._receive()  # built (or its traceback raised here)

    def _receive(self) -> object:
        kind, value = self._conn.recv()
        if kind == "error":
            self.close()
            raise RuntimeError(f"benchmark side failed in its process:\n{value}")
        return value

    def call(self) -> tuple[float, float | None, float, object]:
        """(wall s, other processes' CPU s meanwhile, this side's own CPU s, its result)."""
        self._conn.send("run")
        return self._receive()  # type: ignore[return-value]

    def close(self) -> None:
        if self._proc.is_alive():
            try:
                self._conn.send("stop")
            except (BrokenPipeError, OSError):
                pass
            self._proc.join(timeout=30)
        if self._proc.is_alive():
            self._proc.kill()


def _serve(factory: Callable[..., Callable[[], object]], args: tuple, conn: Any) -> None:
    try:
        run = factory(*args)
        conn.send(("ready", None))
        while conn.recv() == "run":
            own0 = os.times()
            wall, other, result = timed(run)
            own1 = os.times()
            own = max(0.0, own1.user + own1.system - own0.user - own0.system)  # float round-off
            conn.send(("ok", (wall, other, own, result)))
    except Exception:  # reported to the parent, which raises it
        conn.send(("error", traceback.format_exc()))
