"""A stand-in job for test_multihost_lock.py: joins a 2-process JAX job (MATHFT_* env), then takes the
lock on argv[1] through `multihost.acquire_on_process_0` and prints what happened."""

import sys

from mathft_jax import distributed, locks
from mathft_jax.runtime import multihost


def main() -> None:
    _, settings = distributed.split_flags([])
    distributed.initialize(settings)
    try:
        lock = multihost.acquire_on_process_0(sys.argv[1], "probe", is_dir=True)
    except locks.LockHeldError as err:
        print(f"refused: {err}", flush=True)
        sys.exit(3)
    print(f"acquired: {lock is not None}", flush=True)
    multihost.from_process_0(None)  # both processes meet again: the job went on together
    if lock is not None:
        lock.release()


if __name__ == "__main__":
    main()
