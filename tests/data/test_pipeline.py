"""Batch pipeline: determinism, resume at a step, disjoint shards, epochs, packing, pair groups."""

import numpy as np
import pytest
import seqio

from mathft_jax.data import pipeline, registry

VOCAB = seqio.ByteVocabulary()
LENGTHS = {"inputs": 8, "targets": 8}


def _numbers(split: str) -> list[dict[str, str]]:
    return [{"inputs": f"q{i}", "targets": f"a{i}"} for i in range(23)]


def _pairs(split: str) -> list[dict[str, str]]:
    return [
        {f"{g}_{k}": f"{g}{k[0]}{i}" for g in ("pos", "neg", "gen") for k in ("inputs", "targets")}
        for i in range(10)
    ]


registry.register_task("test_numbers", _numbers, replace=True)
registry.register_task("test_pairs", _pairs, groups=registry.VERIFIER_PAIR_GROUPS, replace=True)


def _ids(batch: dict) -> list[str]:
    """The example ids (the text after the 'q') in each row of a batch, '' for padding rows."""
    out = []
    for row, seg in zip(batch["decoder_target_tokens"], batch["decoder_segment_ids"]):
        text = VOCAB.decode([int(t) for t, s in zip(row, seg) if s]).replace("\x01", "")
        out.append(text)
    return out


def _take(n: int, **kwargs) -> list[dict]:
    it = pipeline.batch_iterator("test_numbers", "train", 4, LENGTHS, vocabulary=VOCAB, **kwargs)
    return [next(it) for _ in range(n)]


def test_resume_at_step_sees_the_same_batches():
    full = _take(12, seed=3)
    resumed = _take(5, seed=3, start_step=7)
    for a, b in zip(full[7:], resumed):
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])


def test_shards_are_disjoint_and_form_the_global_batch():
    full = _take(6, seed=1)
    shards = [_take(6, seed=1, shard_index=s, num_shards=2) for s in range(2)]
    for k in range(
        5
    ):  # batches inside epoch 0 (batch 5 spans two epochs and may repeat an example)
        glob = _ids(full[k])
        assert _ids(shards[0][k]) == glob[0::2]
        assert _ids(shards[1][k]) == glob[1::2]
        assert not set(_ids(shards[0][k])) & set(_ids(shards[1][k]))


def test_each_epoch_is_a_fresh_permutation_of_all_examples():
    # 23 examples, batch 4: the first 5 batches (20 rows) lie inside epoch 0, rows 23..45 are epoch 1.
    rows = [r for b in _take(12, seed=0) for r in _ids(b)]
    epoch0, epoch1 = rows[:23], rows[23:46]
    expected = sorted(f"q{i}a{i}" for i in range(23))
    assert sorted(epoch0) == expected and sorted(epoch1) == expected
    assert epoch0 != epoch1
    other_seed = [r for b in _take(6, seed=1) for r in _ids(b)]
    assert other_seed[:23] != epoch0


def test_no_repeat_gives_one_epoch_with_padding_rows():
    it = pipeline.batch_iterator(
        "test_numbers", "train", 4, LENGTHS, vocabulary=VOCAB, repeat=False, shuffle=False
    )
    batches = list(it)
    assert len(batches) == 6  # ceil(23 / 4)
    rows = [r for b in batches for r in _ids(b)]
    assert rows[:23] == [f"q{i}a{i}" for i in range(23)] and rows[23] == ""
    assert batches[-1]["decoder_loss_weights"][3].sum() == 0


def test_arrays_follow_the_prefix_lm_layout():
    batch = _take(1, shuffle=False)[0]
    assert {v.dtype for v in batch.values()} == {np.dtype(np.int32)}
    tgt = batch["decoder_target_tokens"][0]
    # "q0" (2 tokens) then "a0" + EOS (3 tokens), padded to 16.
    assert list(tgt[:5]) == VOCAB.encode("q0a0") + [VOCAB.eos_id] and tgt[5:].sum() == 0
    assert list(batch["decoder_input_tokens"][0][:5]) == [0] + list(tgt[:4])
    assert list(batch["decoder_loss_weights"][0][:6]) == [0, 0, 1, 1, 1, 0]
    assert list(batch["decoder_positions"][0][:6]) == [0, 1, 2, 3, 4, 0]


def test_packing_restarts_positions_and_changes_segments():
    batch = _take(1, shuffle=False, pack=True)[0]
    # Each example is 5 tokens, so a 16-token row packs three.
    assert list(batch["decoder_segment_ids"][0]) == [1] * 5 + [2] * 5 + [3] * 5 + [0]
    assert list(batch["decoder_positions"][0][:10]) == list(range(5)) * 2
    assert batch["decoder_input_tokens"][0][5] == 0  # shift does not leak across examples
    resumed = _take(3, pack=True, seed=2, start_step=9)
    full = _take(12, pack=True, seed=2)
    np.testing.assert_array_equal(
        full[10]["decoder_segment_ids"], resumed[1]["decoder_segment_ids"]
    )
    np.testing.assert_array_equal(
        full[10]["decoder_target_tokens"], resumed[1]["decoder_target_tokens"]
    )


def test_overlong_examples_are_truncated_or_dropped_with_counts(caplog):
    short = {"inputs": 1, "targets": 8}
    it = pipeline.batch_iterator("test_numbers", "train", 4, short, vocabulary=VOCAB, shuffle=False)
    batch = next(it)
    assert (
        VOCAB.decode(batch["decoder_target_tokens"][0][:1].tolist()) == "0"
    )  # input keeps its end
    assert "23 of 23 examples exceed" in caplog.text
    with pytest.raises(ValueError, match="every example was dropped"):
        pipeline.batch_iterator(
            "test_numbers", "train", 4, short, vocabulary=VOCAB, overlong="drop"
        )


def test_pair_tasks_yield_aligned_groups():
    it = pipeline.batch_iterator("test_pairs", "train", 2, LENGTHS, vocabulary=VOCAB, shuffle=False)
    batch = next(it)
    assert set(batch) == {"pos", "neg", "gen"}
    assert _ids(batch["pos"]) == ["posi0post0", "posi1post1"]
    assert _ids(batch["neg"]) == ["negi0negt0", "negi1negt1"]
    with pytest.raises(ValueError, match="pack"):
        pipeline.batch_iterator("test_pairs", "train", 2, LENGTHS, vocabulary=VOCAB, pack=True)


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="num_shards"):
        pipeline.batch_iterator("test_numbers", "train", 5, LENGTHS, vocabulary=VOCAB, num_shards=2)
    with pytest.raises(KeyError, match="unknown task"):
        pipeline.batch_iterator("no_such_task", "train", 4, LENGTHS, vocabulary=VOCAB)
    with pytest.raises(ValueError, match="inputs"):
        pipeline.batch_iterator("test_numbers", "train", 4, {"targets": 4}, vocabulary=VOCAB)


def test_re_registered_task_is_rebuilt_not_served_from_cache():
    registry.register_task("test_rereg", lambda s: [{"inputs": "a", "targets": "b"}], replace=True)
    first = next(pipeline.batch_iterator("test_rereg", "train", 1, LENGTHS, vocabulary=VOCAB))
    registry.register_task("test_rereg", lambda s: [{"inputs": "c", "targets": "d"}], replace=True)
    second = next(pipeline.batch_iterator("test_rereg", "train", 1, LENGTHS, vocabulary=VOCAB))
    assert _ids(first) == ["ab"] and _ids(second) == ["cd"]
