"""Vocabularies: tokenizer.json and SentencePiece models trained here round-trip MATH text."""

import io
import json

import numpy as np
import pytest
import seqio
import tensorflow as tf

from mathft_jax.data import vocabularies

EXTRA = ["Ünïcode → ∞, emoji 🙂, tabs\tand\n\nblank lines", "  leading and trailing  ", ""]


def _math_texts(math_data_dir, limit=None) -> list[str]:
    texts = []
    for split in ("train", "test"):
        with open(math_data_dir / f"{split}.jsonl", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                texts += [row["problem"], row["solution"]]
    return texts[:limit] if limit else texts


@pytest.fixture(scope="module")
def hf_path(tmp_path_factory, math_data_dir):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "<|end_of_text|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_math_texts(math_data_dir, 1000), trainer)
    path = tmp_path_factory.mktemp("hf") / "tokenizer.json"
    tok.save(str(path))
    return path


@pytest.fixture(scope="module")
def sp_path(tmp_path_factory, math_data_dir):
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_math_texts(math_data_dir, 1000)),
        model_writer=model,
        vocab_size=400,
        model_type="bpe",
        byte_fallback=True,  # every byte representable, as in Gemma's model
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=False,
        allow_whitespace_only_pieces=True,
        pad_id=0,
        eos_id=1,
        bos_id=2,
        unk_id=3,
        minloglevel=2,
    )
    path = tmp_path_factory.mktemp("sp") / "tokenizer.model"
    path.write_bytes(model.getvalue())
    return path


def _vocabs(hf_path, sp_path) -> dict[str, seqio.Vocabulary]:
    return {
        "byte": vocabularies.get_vocabulary("byte"),
        "hf": vocabularies.get_vocabulary("hf", str(hf_path)),
        "sentencepiece": vocabularies.get_vocabulary("sentencepiece", str(sp_path)),
    }


def _round_trip_failures(vocab: seqio.Vocabulary, texts: list[str]) -> list[str]:
    return [t for t in texts if vocab.decode(vocab.encode(t)) != t]


def test_round_trip_eos_and_tf_on_a_sample(hf_path, sp_path, math_data_dir):
    texts = _math_texts(math_data_dir, 300) + EXTRA
    for kind, vocab in _vocabs(hf_path, sp_path).items():
        assert _round_trip_failures(vocab, texts) == [], kind
        ids = list(vocab.encode("x = 1"))
        assert vocab.eos_id not in ids and vocab.eos_id != vocab.pad_id == 0, kind
        # Decoding stops at EOS, so padding after a finished sample never reaches the text.
        assert vocab.decode(ids + [vocab.eos_id] + ids) == "x = 1", kind
        tf_ids = vocab.encode_tf(tf.constant("x = 1")).numpy().tolist()
        assert tf_ids == ids, kind
        assert vocab.decode_tf(tf.constant(ids, tf.int32)).numpy().decode() == "x = 1", kind
        correct, incorrect = vocabularies.verifier_label_token_ids(vocab, "correct", "incorrect")
        assert correct == vocab.encode("correct")[0] and correct != incorrect, kind


@pytest.mark.slow
def test_round_trip_on_all_math_problems_and_solutions(hf_path, sp_path, math_data_dir):
    texts = _math_texts(math_data_dir)
    assert len(texts) == 25000
    for kind, vocab in _vocabs(hf_path, sp_path).items():
        if kind != "byte":
            assert _round_trip_failures(vocab, texts) == [], kind


def test_bad_vocabulary_settings_name_the_binding(tmp_path):
    with pytest.raises(ValueError, match="get_vocabulary.path"):
        vocabularies.get_vocabulary("hf")
    with pytest.raises(ValueError, match="get_vocabulary.kind"):
        vocabularies.get_vocabulary("wordpiece", "x")
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(ValueError, match="tokenizer.json"):
        vocabularies.get_vocabulary("hf", str(tmp_path / "tokenizer.json"))


def test_hf_vocabulary_without_a_known_eos_asks_for_one(tmp_path, hf_path):
    data = json.loads(hf_path.read_text())
    for token in data["added_tokens"]:
        token["content"] = token["content"].replace("<|end_of_text|>", "<end>")
    vocab = data["model"]["vocab"]
    vocab["<end>"] = vocab.pop("<|end_of_text|>")
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="eos_token"):
        vocabularies.get_vocabulary("hf", str(path))
    assert vocabularies.get_vocabulary("hf", str(path), eos_token="<end>").eos_id == int(
        np.int32(vocab["<end>"])
    )
