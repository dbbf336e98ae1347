"""One job per output: an exclusive lock on a MODEL_DIR (train), an OUTPUT (decode, score) or a
WORK_DIR (recipe). No JAX import.

    with locks.hold("runs/ssft", "train", is_dir=True):  # runs/ssft/.mathft.lock
        ...                                               # a file c.jsonl: c.jsonl.lock

A second job on the same path stops at once with one line naming the holder:
    LockHeldError: runs/ssft is in use by train (host h1, pid 4242, since 2024-05-01 10:00:00,
    command: python -m mathft_jax.train ...); wait for it to end or stop it (kill 4242)

The lock file holds JSON {host, pid, pid_start, start, heartbeat, command, token}.

Guarantees, per kind of path:
  local (and NFS) paths: `fcntl.flock` on the lock file. The kernel drops the lock when the holder
    exits in any way (kill -9 included), so a lock is never stale: a file left by a dead process is
    taken over at once, saying so. Two racing jobs cannot both hold it (after locking, the file's
    inode is checked against the path, so a lock on a file another job just removed is retried).
  URLs (gs://, through etils.epath), which have no atomic create-if-absent there: write-then-read-
    back. A job checks that no live lock exists, writes its own with a random token, waits
    `SETTLE_S` and reads it back; only the job whose token survived proceeds (the store keeps the
    last write). Safe when each object write lands within `SETTLE_S` (2 s) of being started, which
    holds for GCS in practice but is not a transactional guarantee. The holder refreshes
    `heartbeat` every `lease_s / 4`; a lock whose heartbeat is older than `lease_s`
    (MATHFT_LOCK_LEASE_S, default 120 s), or whose holder ran on this host and is gone, is stale and
    taken over, saying so.
The lock is released when the `with` block ends (normally or by an exception), at interpreter exit,
and on SIGTERM when the process had no handler of its own (SIGTERM then exits with status 143). A
process may take a lock it already holds (the lock excludes other processes, like `flock`).
Multi-host jobs take it on process 0 only (`enabled=False` elsewhere).
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import errno
import fcntl
import json
import logging
import os
import shlex
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from mathft_jax import paths_io

log = logging.getLogger(__name__)
LOCK_NAME = ".mathft.lock"  # inside a folder; a file gets FILE.lock
SETTLE_S = 2.0
_HELD: dict[str, Lock] = {}  # lock path -> this process's lock on it


class LockHeldError(RuntimeError):
    """Another live job holds the lock (the message names it: host, pid, start, command)."""


def lock_path(target: paths_io.PathLike, is_dir: bool) -> str:
    """Where the lock for `target` lives: `target/.mathft.lock` for a folder, `target.lock` else."""
    target = paths_io.normalize(target)
    return f"{target.rstrip('/')}/{LOCK_NAME}" if is_dir else f"{target}.lock"


def _pid_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def _alive_here(info: dict[str, Any]) -> bool | None:
    """Whether the holder named in `info` is alive, when it ran on this host; None: cannot tell."""
    if info.get("host") != socket.gethostname() or not isinstance(info.get("pid"), int):
        return None
    try:
        os.kill(info["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = _pid_start(info["pid"])
    return not (started and info.get("pid_start") and started != info["pid_start"])


def describe(info: dict[str, Any] | None) -> str:
    """One phrase naming a holder: job, host, pid, start time, command."""
    if not info:
        return "a job that is starting (its lock file is still empty)"
    start = datetime.datetime.fromtimestamp(info.get("start", 0)).strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"{info.get('job', '?')} (host {info.get('host')}, pid {info.get('pid')}, since {start}, "
        f"command: {info.get('command')})"
    )


class Lock:
    """An exclusive lock on one path; see the module docstring. Use `hold` unless you need more."""

    def __init__(
        self, target: paths_io.PathLike, job: str, *, is_dir: bool,
        object_store: bool | None = None, lease_s: float | None = None,
    ) -> None:  # fmt: skip
        """`is_dir`: `target` is a folder (MODEL_DIR, WORK_DIR), else a file (OUTPUT);
        `object_store`: force the URL protocol (tests), default: whether `target` is a URL."""
        target_s = paths_io.normalize(target)
        self.target, self.job = target_s, job
        self.path = lock_path(target_s, is_dir)
        self.object_store = paths_io.is_url(target_s) if object_store is None else object_store
        self.lease_s = float(lease_s or os.environ.get("MATHFT_LOCK_LEASE_S", 120))
        self.info = {
            "job": job,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "pid_start": _pid_start(os.getpid()),
            "start": time.time(),
            "heartbeat": time.time(),
            "command": shlex.join([os.path.basename(sys.executable), *sys.argv]),
            "token": uuid.uuid4().hex,
        }
        self._fd: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------------- acquire / release

    def acquire(self) -> Lock:
        """Takes the lock or raises `LockHeldError` naming the holder."""
        mine = _HELD.get(self.path)
        if mine is not None and mine.info["pid"] == os.getpid():
            mine.release()  # an earlier call of this process ended by an exception
        if self.object_store:
            self._acquire_object()
        else:
            self._acquire_local()
        _HELD[self.path] = self
        _install_exit_hooks()
        log.info("%s: locked for %s (%s)", self.target, self.job, self.path)
        return self

    def _held_error(self, info: dict[str, Any] | None) -> LockHeldError:
        pid = (info or {}).get("pid")
        how = f" or stop it (kill {pid} on {info.get('host')})" if pid else ""
        return LockHeldError(
            f"{self.target} is in use by {describe(info)}; wait for it to end{how}. "
            f"Lock file: {self.path}"
        )

    def _acquire_local(self) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                os.close(fd)
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                raise self._held_error(_read_json_file(self.path)) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # locked a file its holder removed on release: lock the new one
        old = _parse(os.read(fd, 1 << 16))
        if old and old.get("token"):
            log.warning(
                "%s: taking over a stale lock of %s: that process is gone", self.target,
                describe(old),
            )  # fmt: skip
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(self.info) + "\n").encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def _acquire_object(self) -> None:
        path = paths_io.as_path(self.path)
        old = _read_json_object(path)
        if old is not None:
            why = self._stale_reason(old)
            if why is None:
                raise self._held_error(old)
            log.warning("%s: taking over a stale lock of %s: %s", self.target, describe(old), why)
        path.write_text(json.dumps(self.info) + "\n")
        time.sleep(SETTLE_S)
        now = _read_json_object(path)
        if not now or now.get("token") != self.info["token"]:
            raise self._held_error(now)
        self._thread = threading.Thread(target=self._heartbeat, daemon=True, name="lock-heartbeat")
        self._thread.start()

    def _stale_reason(self, info: dict[str, Any]) -> str | None:
        alive = _alive_here(info)
        if alive is False:
            return "that process is gone"
        age = time.time() - float(info.get("heartbeat", 0))
        if alive is None and age > self.lease_s:
            return f"no heartbeat for {age:.0f} s (lease {self.lease_s:.0f} s)"
        return None

    def _heartbeat(self) -> None:
        path = paths_io.as_path(self.path)
        while not self._stop.wait(self.lease_s / 4):
            try:
                now = _read_json_object(path)
                if not now or now.get("token") != self.info["token"]:
                    log.error("%s: lock lost to %s", self.target, describe(now))
                    return
                self.info["heartbeat"] = time.time()
                path.write_text(json.dumps(self.info) + "\n")
            except Exception as err:  # noqa: BLE001 - keep beating through a transient error
                log.warning("%s: lock heartbeat failed: %s", self.target, err)

    def release(self) -> None:
        """Gives the lock up (idempotent)."""
        if _HELD.get(self.path) is self:
            del _HELD[self.path]
        self._stop.set()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)  # while still locked: the next job finds no file or a new one
            os.close(self._fd)
            self._fd = None
        elif self.object_store and self._thread is not None:
            self._thread = None
            path = paths_io.as_path(self.path)
            with contextlib.suppress(Exception):
                now = _read_json_object(path)
                if now and now.get("token") == self.info["token"]:
                    path.unlink()


@contextlib.contextmanager
def hold(
    target: paths_io.PathLike, job: str, *, is_dir: bool, enabled: bool = True, **kwargs: Any
) -> Iterator[Lock | None]:
    """The lock on `target` for the block (`enabled=False`: no lock, e.g. processes other than 0).

    `job` names the holder in messages ("train", "decode", ...); see `Lock` for the rest.
    """
    if not enabled:
        yield None
        return
    lock = Lock(target, job, is_dir=is_dir, **kwargs).acquire()
    try:
        yield lock
    finally:
        lock.release()


def _parse(data: bytes | str) -> dict[str, Any] | None:
    try:
        info = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    return info if isinstance(info, dict) else None


def _read_json_file(path: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as f:
            return _parse(f.read())
    except OSError:
        return None


def _read_json_object(path: Any) -> dict[str, Any] | None:
    try:
        return _parse(path.read_bytes()) if path.exists() else None
    except FileNotFoundError:
        return None


def release_all() -> None:
    """Releases every lock this process holds (at exit and on SIGTERM)."""
    for lock in list(_HELD.values()):
        with contextlib.suppress(Exception):
            lock.release()


_HOOKS = []


def _install_exit_hooks() -> None:
    if _HOOKS:
        return
    _HOOKS.append(True)
    atexit.register(release_all)
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    release_all()
    raise SystemExit(128 + signum)
