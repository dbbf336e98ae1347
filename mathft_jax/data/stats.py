"""Example counts and token-length percentiles per feature, to choose TASK_FEATURE_LENGTHS.

    python -m mathft_jax.data.stats --task=math_ssft_human --split=train
    python -m mathft_jax.data.stats --task=synth_ssft --vocab=hf --vocab_path=/path/tokenizer.json

Target lengths include the EOS the pipeline appends; `total` is inputs + targets (the decoder
length). With `--feature_lengths=inputs:512,targets:512` it also counts what would be cut.
"""

import argparse
import sys
from collections.abc import Sequence

import numpy as np

PERCENTILES = (50, 90, 95, 99, 100)


def length_table(
    task_name: str, split: str, vocabulary, feature_lengths: dict[str, int] | None = None
) -> list[str]:
    """The printed lines: a header, then one row per feature with count and percentiles."""
    from mathft_jax.data import pipeline, registry  # lazy: pulls TensorFlow via seqio

    data = pipeline.tokenize_split(task_name, split, vocabulary)
    lines = [f"{task_name} / {split}: {len(data.examples)} examples"]
    head = (
        "feature".ljust(16) + "".join(f"p{p}".rjust(8) for p in PERCENTILES[:-1]) + "max".rjust(8)
    )
    lines.append(head + ("  over_limit" if feature_lengths else ""))
    for k, group in enumerate(data.groups):
        ik, tk = registry.feature_keys(group)
        inputs = np.array([len(ex[k][0]) for ex in data.examples])
        targets = np.array([len(ex[k][1]) for ex in data.examples])
        total_key = f"{group}_total" if group else "total"
        limits = pipeline.group_lengths(feature_lengths, group) if feature_lengths else None
        for j, (name, values) in enumerate(
            ((ik, inputs), (tk, targets), (total_key, inputs + targets))
        ):
            row = name.ljust(16) + "".join(
                f"{int(np.percentile(values, p)):8d}" for p in PERCENTILES
            )
            if limits:
                limit = limits[j] if j < 2 else sum(limits)
                row += f"  {int((values > limit).sum())} > {limit}"
            lines.append(row)
    return lines


def _parse_lengths(text: str) -> dict[str, int]:
    try:
        return {k: int(v) for k, v in (item.split(":") for item in text.split(",") if item)}
    except ValueError as err:
        raise SystemExit(f"--feature_lengths: expected name:int,name:int, got {text!r}") from err


def main(argv: Sequence[str] | None = None) -> None:
    """Parses flags and gin, prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", required=True, help="task or mixture name")
    parser.add_argument("--split", default="train")
    parser.add_argument("--vocab", default="byte", choices=("byte", "hf", "sentencepiece"))
    parser.add_argument("--vocab_path", default=None, help="tokenizer.json or .model file")
    parser.add_argument("--feature_lengths", default="", help="e.g. inputs:512,targets:512")
    parser.add_argument("--gin_file", action="append", default=[])
    parser.add_argument("--gin_bindings", action="append", default=[])
    args = parser.parse_args(argv)

    import gin

    # Every configurable must be imported before gin parses (and locks) the config.
    from mathft_jax.data import pipeline, tasks, vocabularies  # noqa: F401

    if args.gin_file or args.gin_bindings:
        gin.parse_config_files_and_bindings(args.gin_file, args.gin_bindings, finalize_config=False)
    tasks.register_builtin_tasks()
    vocabulary = vocabularies.get_vocabulary(args.vocab, args.vocab_path)
    lengths = _parse_lengths(args.feature_lengths) if args.feature_lengths else None
    print("\n".join(length_table(args.task, args.split, vocabulary, lengths)))


if __name__ == "__main__":
    main(sys.argv[1:])
