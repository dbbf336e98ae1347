"""Plan a job on a TPU topology without a TPU: compile its step (train, decode or score) for the
topology on this host and print per-chip memory against HBM, model FLOPs, a roofline bound on the
step time and the collectives.

    python -m mathft_jax.plan --topology v5p:2x4x4 --gin_file=gin/ssft.gin \
        --gin_file=gin/models/llama3_8b.gin --gin_file=gin/partitioning/fsdp.gin \
        [--stage train|decode|score] [--gin.BATCH_SIZE=64] [--find_batch] [--output plan.json]

Exit status: 0 fits, 3 does not fit, 2 bad arguments (unknown topology, mismatched mesh).
Needs `libtpu` (pip install -e .[test]; the version `jax[tpu]` pins).
"""

import argparse
import json
import logging
import sys
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
    try:
        r = report.plan_stage(args.topology, args.stage, **kw)
    except chips.TopologyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(report.format_report(r))
    if args.find_batch:
        shards = 1
        for a in ("data", "fsdp"):
            shards *= r["mesh"].get(a, 1)
        fb = report.find_batch(args.topology, args.stage, r["batch"], shards)
        r["find_batch"] = fb
        print(f"  largest batch that fits: {fb['batch']} (tried {fb['tried']})")
    if args.output:
        with open(args.output, "w") as f:
            json.dump(r, f, indent=1, default=float)
    return 0 if r["fits"] else EXIT_DOES_NOT_FIT


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
