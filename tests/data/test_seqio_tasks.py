"""seqio registration and the seqio feature converter agree with the numpy pipeline."""

import numpy as np
import seqio

from mathft_jax.data import feature_converters, pipeline, registry, seqio_tasks

VOCAB = seqio.ByteVocabulary()
registry.register_task(
    "test_seqio",
    lambda split: [{"inputs": f"q{i}", "targets": f"ans{i}"} for i in range(5)],
    replace=True,
)


def test_seqio_task_and_converter_match_the_numpy_converter():
    seqio_tasks.register_seqio_task("test_seqio", VOCAB)
    lengths = {"inputs": 4, "targets": 8}
    ds = seqio.get_mixture_or_task("test_seqio").get_dataset(lengths, "train", shuffle=False)
    converted = seqio_tasks.DecoderOnlyFeatureConverter(pack=False)(ds, lengths)
    got = [{k: v.numpy() for k, v in ex.items()} for ex in converted]
    assert len(got) == 5 and set(got[0]) == set(feature_converters.ARRAY_NAMES)
    batch = next(
        pipeline.batch_iterator("test_seqio", "train", 5, lengths, vocabulary=VOCAB, shuffle=False)
    )
    for name in feature_converters.ARRAY_NAMES:
        np.testing.assert_array_equal(np.stack([ex[name] for ex in got]), batch[name], err_msg=name)


def test_packed_seqio_converter_restarts_positions():
    seqio_tasks.register_seqio_task("test_seqio", VOCAB)
    lengths = {
        "inputs": 8,
        "targets": 16,
    }  # seqio packs inputs and targets within their own lengths
    ds = seqio.get_mixture_or_task("test_seqio").get_dataset(lengths, "train", shuffle=False)
    ex = next(iter(seqio_tasks.DecoderOnlyFeatureConverter(pack=True)(ds, lengths)))
    seg, pos = ex["decoder_segment_ids"].numpy(), ex["decoder_positions"].numpy()
    assert seg.max() >= 2 and "decoder_causal_attention" not in ex
    assert pos[seg == 2][0] == 0
