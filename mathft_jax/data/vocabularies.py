"""Vocabularies as `seqio.Vocabulary`: bytes (tiny models, `synth`), HF `tokenizer.json` (Llama 3,
Qwen2.5) and SentencePiece `.model` (Gemma).

Id 0 is the padding id in every batch array (WORKSPACE.md); for HF vocabularies whose id 0 is a real
token (Llama 3's "!"), padding is told apart by `decoder_segment_ids == 0`, never by token value.
EOS is appended to every target by the pipeline, so each vocabulary must name one.
"""

from collections.abc import Sequence

import gin
import numpy as np
import seqio
import tensorflow as tf

# EOS names tried in order when a tokenizer.json's EOS is not given (Llama 3, Qwen2.5, Gemma, GPT-2, T5).
_EOS_CANDIDATES = ("<|end_of_text|>", "<|endoftext|>", "<eos>", "</s>", "<|im_end|>")


class HFTokenizerVocabulary(seqio.Vocabulary):
    """A HuggingFace `tokenizers` tokenizer.json as a seqio vocabulary (no BOS added; EOS by name)."""

    def __init__(self, path: str, eos_token: str | None = None, extra_ids: int = 0):
        from tokenizers import Tokenizer  # noqa: PLC0415 (heavy, only when used)

        self.path = str(path)
        try:
            self._tokenizer = Tokenizer.from_file(self.path)
        except Exception as err:  # tokenizers raises a bare Exception on a bad file
            raise ValueError(f"{self.path}: not a readable tokenizer.json ({err})") from err
        names = (eos_token,) if eos_token else _EOS_CANDIDATES
        ids = [self._tokenizer.token_to_id(n) for n in names]
        found = [i for i in ids if i is not None]
        if not found:
            raise ValueError(
                f"{self.path}: no EOS token among {names}; bind get_vocabulary.eos_token in gin"
            )
        self._eos_id = int(found[0])
        super().__init__(extra_ids=extra_ids)

    @property
    def eos_id(self) -> int:
        return self._eos_id

    @property
    def unk_id(self) -> int | None:
        return None

    @property
    def _base_vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def _encode(self, s: str) -> Sequence[int]:
        return self._tokenizer.encode(s, add_special_tokens=False).ids

    def _decode(self, ids: Sequence[int]) -> str:
        ids = [int(i) for i in ids]
        if self._eos_id in ids:
            ids = ids[: ids.index(self._eos_id)]
        return self._tokenizer.decode(ids, skip_special_tokens=False)

    def _encode_tf(self, s: tf.Tensor) -> tf.Tensor:
        def encode(text: np.ndarray) -> np.ndarray:  # a 0-d object array holding bytes
            return np.asarray(self._encode(text.item().decode("utf-8")), np.int32)

        ids = tf.numpy_function(encode, [s], tf.int32)
        ids.set_shape([None])
        return ids

    def _decode_tf(self, ids: tf.Tensor) -> tf.Tensor:
        def decode(arr: np.ndarray) -> np.ndarray:
            return np.asarray(self._decode(arr.tolist()).encode("utf-8"), dtype=object)

        text = tf.numpy_function(decode, [ids], tf.string)
        text.set_shape([])
        return text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HFTokenizerVocabulary) and other.path == self.path

    def __hash__(self) -> int:
        return hash(("hf", self.path))


@gin.configurable
def get_vocabulary(
    kind: str = "byte", path: str | None = None, eos_token: str | None = None
) -> seqio.Vocabulary:
    """The run's vocabulary: bind `get_vocabulary.kind = "byte" | "hf" | "sentencepiece"` and `.path`."""
    if kind == "byte":
        return seqio.ByteVocabulary()
    if not path:
        raise ValueError(f'get_vocabulary.kind = "{kind}" needs get_vocabulary.path (gin)')
    if kind == "hf":
        return HFTokenizerVocabulary(path, eos_token=eos_token)
    if kind == "sentencepiece":
        return seqio.SentencePieceVocabulary(path)
    raise ValueError(f'get_vocabulary.kind must be "byte", "hf" or "sentencepiece", got {kind!r}')


def vocabulary_key(vocab: seqio.Vocabulary) -> tuple:
    """A hashable identity for caching tokenized data per vocabulary."""
    if isinstance(vocab, HFTokenizerVocabulary):
        return ("hf", vocab.path)
    if isinstance(vocab, seqio.SentencePieceVocabulary):
        return ("sp", vocab.sentencepiece_model_file, vocab.extra_ids)
    return (type(vocab).__name__, vocab.extra_ids, vocab.vocab_size)


def verifier_label_token_ids(
    vocab: seqio.Vocabulary, correct_word: str, incorrect_word: str
) -> tuple[int, int]:
    """First token id of each verifier word; the trainer and scorer compare these two logits.

    Raises ValueError when the words share their first token (e.g. "correct"/"correctly" in a
    byte vocabulary), since the verifier could then not tell them apart.
    """
    ids = []
    for word in (correct_word, incorrect_word):
        tokens = list(vocab.encode(word))
        if not tokens:
            raise ValueError(f"verifier word {word!r} encodes to no tokens")
        ids.append(int(tokens[0]))
    if ids[0] == ids[1]:
        raise ValueError(
            f"verifier words {correct_word!r} and {incorrect_word!r} share their first token id "
            f"{ids[0]}; bind different verifier_words.correct_word / incorrect_word in gin"
        )
    return ids[0], ids[1]
