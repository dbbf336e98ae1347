"""Locks: one job per MODEL_DIR/OUTPUT/WORK_DIR, named holders, stale locks taken over."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from mathft_jax import locks

HOLDER = textwrap.dedent(
    """
    import os, sys, time
    from mathft_jax import locks
    target, go, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    locks.SETTLE_S = 0.3
    while not os.path.exists(go):
        time.sleep(0.005)
    try:
        with locks.hold(target, "racer", is_dir=True, object_store=mode == "object"):
            print("GOT", flush=True)
            time.sleep(float(sys.argv[4]))
    except locks.LockHeldError as err:
        print("HELD", err, flush=True)
    """
)


def _start(tmp_path, mode, hold_s, n=1):
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    go = tmp_path / "go"
    args = [sys.executable, "-c", HOLDER, str(tmp_path / "dir"), str(go), mode, str(hold_s)]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env) for _ in range(n)]
    return procs, go


@pytest.mark.parametrize("mode", ["local", "object"])
def test_racing_processes_exactly_one_wins_and_the_others_name_it(tmp_path, mode):
    (tmp_path / "dir").mkdir()
    procs, go = _start(tmp_path, mode, hold_s=2.0, n=4)
    time.sleep(1.5)  # all four imported and waiting
    go.touch()
    outs = [p.communicate(timeout=60)[0] for p in procs]
    winners = [o for o in outs if o.startswith("GOT")]
    assert len(winners) == 1, outs
    (winner,) = [p.pid for p, o in zip(procs, outs) if o.startswith("GOT")]
    for out in outs:
        if out.startswith("HELD"):
            # A loser that reads the lock before the winner has written its record is told the
            # holder is still starting (`locks.describe` of an empty record); otherwise it names
            # the winner. Which one a loser sees is the race's timing (both are seen under load).
            if "is in use by a job that is starting" in out:
                continue
            assert f"is in use by racer (host {socket.gethostname()}, pid {winner}" in out
            assert "command: python" in out and "kill" in out
    assert not (tmp_path / "dir" / locks.LOCK_NAME).exists()  # released at the end


@pytest.mark.parametrize("mode", ["local", "object"])
def test_a_lock_of_a_killed_process_is_taken_over_saying_so(tmp_path, mode, caplog):
    (tmp_path / "dir").mkdir()
    ((procs, go),) = [_start(tmp_path, mode, hold_s=60)]
    go.touch()
    assert procs[0].stdout.readline().startswith("GOT")
    with pytest.raises(locks.LockHeldError, match=f"pid {procs[0].pid}"):
        locks.Lock(tmp_path / "dir", "me", is_dir=True, object_store=mode == "object").acquire()
    procs[0].kill()  # kill -9: no handler runs, the lock file stays
    procs[0].wait()
    assert (tmp_path / "dir" / locks.LOCK_NAME).exists()
    locks.SETTLE_S, settle = 0.1, locks.SETTLE_S
    try:
        with locks.hold(tmp_path / "dir", "me", is_dir=True, object_store=mode == "object"):
            held = json.loads((tmp_path / "dir" / locks.LOCK_NAME).read_text())
            assert held["pid"] == os.getpid() and held["job"] == "me"
    finally:
        locks.SETTLE_S = settle
    assert f"taking over a stale lock of racer (host {socket.gethostname()}, pid" in caplog.text
    assert "that process is gone" in caplog.text


def test_an_object_lock_of_another_host_is_stale_only_after_its_lease(tmp_path, monkeypatch):
    monkeypatch.setattr(locks, "SETTLE_S", 0.05)
    target = tmp_path / "c.jsonl"
    other = {"job": "decode", "host": "elsewhere", "pid": 1, "start": time.time(), "token": "x"}
    lock_file = tmp_path / "c.jsonl.lock"
    lock_file.write_text(json.dumps({**other, "heartbeat": time.time()}))
    with pytest.raises(locks.LockHeldError, match="in use by decode \\(host elsewhere, pid 1"):
        locks.Lock(target, "score", is_dir=False, object_store=True, lease_s=30).acquire()
    lock_file.write_text(json.dumps({**other, "heartbeat": time.time() - 31}))
    lock = locks.Lock(target, "score", is_dir=False, object_store=True, lease_s=30).acquire()
    assert json.loads(lock_file.read_text())["token"] == lock.info["token"]
    lock.release()
    assert not lock_file.exists()


def test_sigterm_releases_the_lock(tmp_path):
    (tmp_path / "dir").mkdir()
    ((procs, go),) = [_start(tmp_path, "object", hold_s=60)]
    go.touch()
    assert procs[0].stdout.readline().startswith("GOT")
    procs[0].send_signal(signal.SIGTERM)
    assert procs[0].wait(timeout=30) == 128 + signal.SIGTERM
    assert not (tmp_path / "dir" / locks.LOCK_NAME).exists()


def test_a_process_may_retake_its_own_lock_and_disabled_takes_none(tmp_path):
    first = locks.Lock(tmp_path, "train", is_dir=True).acquire()  # e.g. a run that raised
    with locks.hold(tmp_path, "train", is_dir=True) as second:
        assert second is not first
    with locks.hold(tmp_path, "train", is_dir=True, enabled=False) as none:
        assert none is None and not (tmp_path / locks.LOCK_NAME).exists()
