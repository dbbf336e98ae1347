"""Real tokenizers (Llama 3, Qwen3, Gemma 3, SmolLM2): every MATH problem and solution round-trips
through our vocabulary, and our framing gives the ids the tokenizer's own encoder gives."""

import json

import pytest

from mathft_jax.data import vocabularies

# What each tokenizer's own encoder begins text with, and the EOS its config names.
EXPECTED = {
    "llama3": ("<|begin_of_text|>", "<|end_of_text|>"),
    "qwen3": (None, "<|im_end|>"),
    "gemma3": ("<bos>", "<end_of_turn>"),
    "smollm2": (None, "<|im_end|>"),
}


@pytest.fixture(scope="module")
def math_texts(math_data_dir):
    texts = []
    for name in ("train.jsonl", "test.jsonl"):
        for line in (math_data_dir / name).read_text().splitlines():
            row = json.loads(line)
            texts += [row["problem"], row["solution"]]
    assert len(texts) == 25_000
    return texts


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_round_trip_every_math_text_and_framing_equals_own_encoder(
    name, real_tokenizer_paths, math_texts
):
    from tokenizers import Tokenizer

    path = str(real_tokenizer_paths[name])
    vocab = vocabularies.HFTokenizerVocabulary(path)
    own = Tokenizer.from_file(path)
    bos, eos = EXPECTED[name]
    f = vocabularies.framing(vocab)
    assert f.begin_id == (None if bos is None else own.token_to_id(bos))
    assert f.eos_id == own.token_to_id(eos)
    assert f.begin_id != 0 or name == "byte"  # never the shift-right 0 on a real tokenizer

    ids = vocab.encode_many(math_texts)
    decoded = vocab.decode_many(ids)
    bad = [i for i, (a, b) in enumerate(zip(math_texts, decoded)) if a != b]
    print(
        f"{name}: {len(math_texts)} MATH texts, {sum(map(len, ids))} tokens, {len(bad)} mismatches"
    )
    assert not bad, f"{name}: round trip differs on text {bad[0]}: {math_texts[bad[0]][:80]!r}"
    # Framed = begin (if any) + text ids: what the tokenizer's own encoder gives with its specials.
    # (The npm Llama 3 tokenizer.json is Meta's first revision, whose post-processor lost the
    # <|begin_of_text|> template that the later revision and the model's pretraining have.)
    own_ids = [e.ids for e in own.encode_batch(math_texts, add_special_tokens=True)]
    if name == "llama3":
        assert own.encode("a", add_special_tokens=True).ids == own.encode("a").ids == [64]
        own_ids = [[f.begin_id] + x for x in own_ids]
    framed = [([] if f.begin_id is None else [f.begin_id]) + x for x in ids]
    differ = [i for i, (a, b) in enumerate(zip(framed, own_ids)) if a != b]
    assert not differ, f"{name}: framed ids differ from the own encoder on text {differ[0]}"
    # The single-text path (what seqio tasks call) agrees with the batch path.
    assert list(vocab.encode(math_texts[7])) == ids[7]


def test_byte_vocabulary_keeps_the_shift_right_zero():
    import seqio

    f = vocabularies.framing(seqio.ByteVocabulary())
    assert f == vocabularies.Framing(begin_id=0, eos_id=1, pad_id=0)
