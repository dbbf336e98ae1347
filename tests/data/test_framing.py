"""The framing rule reaches the feature converter and the prompt encoder (no real tokenizer needed)."""

import numpy as np
import pytest
import seqio

from mathft_jax.data import feature_converters as fc
from mathft_jax.data import vocabularies
from mathft_jax.inference import generation

PAIR = (np.array([5, 6]), np.array([7, 1]))


def test_begin_id_zero_is_the_t5x_shift_right():
    out = fc.convert_rows([[PAIR]], 6)
    assert out["decoder_input_tokens"].tolist() == [[0, 5, 6, 7, 0, 0]]
    assert out["decoder_target_tokens"].tolist() == [[5, 6, 7, 1, 0, 0]]
    assert out["decoder_loss_weights"].tolist() == [[0, 0, 1, 1, 0, 0]]


def test_bos_begins_every_packed_example():
    out = fc.convert_rows([[PAIR, PAIR]], 8, begin_id=128000)
    assert out["decoder_input_tokens"].tolist() == [[128000, 5, 6, 7, 128000, 5, 6, 7]]
    assert out["decoder_target_tokens"].tolist() == [[5, 6, 7, 1, 5, 6, 7, 1]]
    assert out["decoder_positions"].tolist() == [[0, 1, 2, 3, 0, 1, 2, 3]]


def test_no_begin_reads_the_sequence_as_is():
    out = fc.convert_rows([[PAIR]], 5, begin_id=None)
    assert out["decoder_input_tokens"].tolist() == [[5, 6, 7, 0, 0]]
    assert out["decoder_target_tokens"].tolist() == [[6, 7, 1, 0, 0]]
    assert out["decoder_loss_weights"].tolist() == [[0, 1, 1, 0, 0]]
    assert out["decoder_segment_ids"].tolist() == [[1, 1, 1, 0, 0]]
    with pytest.raises(ValueError, match="non-empty inputs"):
        fc.convert_rows([[(np.array([], np.int32), np.array([7, 1]))]], 5, begin_id=None)


class _Vocab:
    """An HF-like vocabulary stub: framing reads bos/eos/pad from it."""

    def __init__(self, bos):
        self.bos_id, self.eos_id, self.framing_pad_id = bos, 2, 3

    def encode(self, text):
        return [10 + ord(c) - ord("a") for c in text]


def test_prompts_begin_as_training_does(monkeypatch):
    monkeypatch.setattr(vocabularies, "HFTokenizerVocabulary", _Vocab)
    tokens, segs, _ = generation.encode_prompts(_Vocab(bos=128000), ["ab"], 4)
    assert tokens.tolist() == [[3, 128000, 10, 11]] and segs.tolist() == [[0, 1, 1, 1]]
    tokens, segs, _ = generation.encode_prompts(_Vocab(bos=None), ["ab"], 4)
    assert tokens.tolist() == [[3, 3, 10, 11]] and segs.tolist() == [[0, 0, 1, 1]]
    byte = seqio.ByteVocabulary()
    tokens, _, _ = generation.encode_prompts(byte, ["a"], 3)
    assert tokens.tolist() == [[0, 0, byte.encode("a")[0]]]
