"""How busy the machine was while a benchmark side ran: the figure printed beside every timing,
since 2 shared cores make wall times noisy. Shared by the grading, train and decode benchmarks."""

import os
import pathlib
import time
from collections.abc import Callable
from typing import TypeVar

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
