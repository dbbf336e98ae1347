"""Hard per-item deadlines in worker processes (no SIGALRM, so it works from any thread).

The in-process grader is already bounded by its guards; this is the backstop for batches: an item
whose worker overruns `timeout` is answered with `default`, the worker is killed and replaced.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import time
from collections.abc import Callable, Sequence
from typing import Any


def _worker_loop(fn: Callable[..., Any], conn: multiprocessing.connection.Connection) -> None:
    while True:
        message = conn.recv()
        if message is None:
            return
        index, args = message
        try:
            conn.send((index, True, fn(*args)))
        except Exception as err:  # the caller's default stands in for any failure
            conn.send((index, False, repr(err)))


class _Worker:
    def __init__(self, ctx: Any, fn: Callable[..., Any]):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_loop, args=(fn, child), daemon=True)
        self.process.start()
        child.close()
        self.index: int | None = None
        self.started = 0.0

    def submit(self, index: int, args: tuple) -> None:
        self.index, self.started = index, time.monotonic()
        self.conn.send((index, args))

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except (BrokenPipeError, OSError):
                self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


def map_with_deadline(
    fn: Callable[..., Any],
    items: Sequence[tuple],
    timeout: float = 2.0,
    workers: int = 2,
    default: Any = None,
) -> tuple[list[Any], list[str]]:
    """`[fn(*args) for args in items]` in `workers` processes, each item under `timeout` seconds.

    `fn` must be a module-level function (it is pickled to spawned workers). Returns the results
    (with `default` for items that timed out or raised) and one outcome per item: "ok", "timeout"
    or "error".
    """
    results: list[Any] = [default] * len(items)
    outcomes = ["ok"] * len(items)
    if not items:
        return results, outcomes
    ctx = multiprocessing.get_context("spawn")
    pool = [_Worker(ctx, fn) for _ in range(max(1, min(workers, len(items))))]
    pending = list(range(len(items) - 1, -1, -1))
    try:
        for worker in pool:
            if pending:
                index = pending.pop()
                worker.submit(index, items[index])
        while any(w.index is not None for w in pool):
            busy = [w for w in pool if w.index is not None]
            now = time.monotonic()
            wait_s = max(0.0, min(w.started + timeout - now for w in busy))
            ready = multiprocessing.connection.wait([w.conn for w in busy], timeout=wait_s)
            now = time.monotonic()
            for i, worker in enumerate(pool):
                if worker.index is None:
                    continue
                if worker.conn in ready:
                    try:
                        index, ok, value = worker.conn.recv()
                    except EOFError:  # the worker died (e.g. out of memory)
                        index, ok, value = worker.index, False, None
                        worker.stop(kill=True)
                        pool[i] = worker = _Worker(ctx, fn)
                    results[index] = value if ok else default
                    outcomes[index] = "ok" if ok else "error"
                elif now - worker.started >= timeout:
                    outcomes[worker.index] = "timeout"
                    worker.stop(kill=True)
                    pool[i] = worker = _Worker(ctx, fn)
                else:
                    continue
                worker.index = None
                if pending:
                    index = pending.pop()
                    worker.submit(index, items[index])
    finally:
        for worker in pool:
            worker.stop(kill=worker.index is not None)
    return results, outcomes
