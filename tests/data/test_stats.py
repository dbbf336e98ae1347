"""The stats CLI: counts and length percentiles per feature."""

import seqio

from mathft_jax.data import registry, stats

registry.register_task(
    "test_stats",
    lambda split: [{"inputs": "ab", "targets": "x" * n} for n in range(1, 11)],
    replace=True,
)


def test_length_table_counts_and_percentiles():
    lines = stats.length_table(
        "test_stats", "train", seqio.ByteVocabulary(), {"inputs": 2, "targets": 8}
    )
    assert lines[0] == "test_stats / train: 10 examples"
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows["inputs"][1:6] == ["2"] * 5 and rows["inputs"][6] == "0"  # none over 2
    assert rows["targets"][5] == "11"  # max: 10 characters + EOS
    assert rows["targets"][6:] == ["3", ">", "8"]  # targets of 9, 10, 11 tokens exceed 8
    assert rows["total"][5] == "13"


def test_cli_prints_the_table(capsys):
    stats.main(["--task=test_stats", "--split=validation"])
    out = capsys.readouterr().out
    assert "test_stats / validation: 10 examples" in out and out.count("\n") == 5
