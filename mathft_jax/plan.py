"""Plan a job on a TPU topology without a TPU: compile its step (train, decode or score) for the
topology on this host and print per-chip memory against HBM, model FLOPs, a roofline bound on the
step time and the collectives.

    python -m mathft_jax.plan --topology v5p:2x4x4 --gin_file=gin/ssft.gin \
        --gin_file=gin/models/llama3_8b.gin --gin_file=gin/partitioning/fsdp.gin \
        [--stage train|decode|score] [--gin.BATCH_SIZE=64] [--output plan.json]
        [--find_batch [--find_batch_from plan.json] [--batch_resolution 128]]

Exit status: 0 fits, 3 does not fit, 2 bad arguments (unknown topology, mismatched mesh).
Needs `libtpu` (pip install -e .[test]; the version `jax[tpu]` pins).
"""

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence

from mathft_jax.planning import chips

EXIT_DOES_NOT_FIT = 3


def parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(
        prog="python -m mathft_jax.plan", description=__doc__.split("\n")[0]
    )
    p.add_argument("--topology", required=True, help=f"e.g. {', '.join(chips.EXAMPLES)}")
    p.add_argument("--stage", default="train", choices=("train", "decode", "score"))
    p.add_argument("--output", help="write the figures as JSON here")
    p.add_argument("--find_batch", action="store_true", help="search the largest fitting batch")
    p.add_argument(
        "--find_batch_from", metavar="JSON",
        help="with --find_batch: the start batch's figures from this JSON (what --output wrote "
        "for the same arguments) instead of compiling the start batch again",
    )  # fmt: skip
    p.add_argument(
        "--batch_resolution", type=int, default=0,
        help="with --find_batch: stop when the largest fit and the smallest failure are this many "
        "rows apart (default: the batch step, an exact answer)",
    )  # fmt: skip
    p.add_argument("--num_samples", type=int, help="decode: N (default run_decode.num_samples)")
    args, rest = p.parse_known_args(argv)
    return args, rest


def main(argv: Sequence[str]) -> int:
    args, gin_args = parse(argv)
    try:
        chips.parse_topology(args.topology)
    except chips.TopologyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    chips.set_tpu_env(args.topology)  # before JAX starts: this host runs nothing on the TPU
    logging.basicConfig(level=logging.WARNING)
    from mathft_jax import gin_flags
    from mathft_jax.planning import (
        report,
        steps,
    )

    steps.register_configurables()
    gin_flags.setup_gin(gin_args)
    kw = {"num_samples": args.num_samples} if args.stage == "decode" and args.num_samples else {}
    if args.find_batch_from and not args.find_batch:
        print("error: --find_batch_from needs --find_batch", file=sys.stderr)
        return 2
    try:
        if args.find_batch_from:
            with open(args.find_batch_from) as f:
                r = json.load(f)
            print(f"start batch {r['batch']}: figures from {args.find_batch_from} (not compiled)")
        else:
            r = report.plan_stage(args.topology, args.stage, **kw)
            print(report.format_report(r))
    except chips.TopologyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.find_batch:
        step = 1
        for a in ("data", "fsdp"):
            step *= r["mesh"].get(a, 1)
        step *= r.get("accum_steps") or 1  # every microbatch splits over the batch shards

        def progress(fb: dict) -> None:
            r["find_batch"] = fb
            p = fb["probes"][-1]
            print(f"  probe batch {p['batch']}: {'fits' if p['fits'] else 'does not fit'} "
                  f"({p['seconds']} s)", flush=True)  # fmt: skip
            if args.output:  # the bounds so far, should the search be stopped
                _write(args.output, r)

        t0 = time.time()
        fb = report.find_batch(
            args.topology, args.stage, r["batch"], step, start_result=r,
            resolution=args.batch_resolution or None, progress=progress,
        )  # fmt: skip
        fb["seconds"] = round(time.time() - t0, 1)
        r["find_batch"] = fb
        if fb["exact"]:
            print(f"  largest batch that fits: {fb['batch']} (tried {fb['tried']})")
        else:
            above = (
                f"< {fb['upper']}" if fb["upper"] else f"every probe fit up to {fb['capped_at']}"
            )
            print(f"  largest batch that fits: >= {fb['batch']}, {above} (tried {fb['tried']})")
    if args.output:
        _write(args.output, r)
    return 0 if r["fits"] else EXIT_DOES_NOT_FIT


def _write(path: str, r: dict) -> None:
    with open(path + ".tmp", "w") as f:
        json.dump(r, f, indent=1, default=float)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
