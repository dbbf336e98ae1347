"""Vocabularies as `seqio.Vocabulary`: bytes (tiny models, `synth`), HF `tokenizer.json` (Llama 3,
Qwen2.5) and SentencePiece `.model` (Gemma).

Id 0 is the padding id in every batch array (WORKSPACE.md); for HF vocabularies whose id 0 is a real
token (Llama 3's "!"), padding is told apart by `decoder_segment_ids == 0`, never by token value.
EOS is appended to every target by the pipeline, so each vocabulary must name one.

Sequence framing (`framing(vocab) -> Framing`), one rule per vocabulary kind:
- begin: the tokenizer's BOS when its own encoder adds one (Gemma `<bos>`) or its
  `tokenizer_config.json` names one without `add_bos_token: false` (Llama 3 `<|begin_of_text|>`);
  nothing when it has none or says not to add it (Qwen, SmolLM2); the T5X shift-right 0 only for
  vocabularies whose id 0 is padding (byte, SentencePiece with pad 0).
- end: the tokenizer's EOS (`tokenizer_config.json` `eos_token`, e.g. an end-of-turn token where the
  tokenizer is configured so), else the first of `_EOS_CANDIDATES`; `get_vocabulary.eos_token` wins.
- pad: the tokenizer's pad token, else its EOS; padded slots are masked (segment id 0), never read.
"""

import dataclasses
import json
import os
from collections.abc import Sequence

import gin
import numpy as np
import seqio
import tensorflow as tf

# EOS names tried in order when a tokenizer.json's EOS is not given (Llama 3, Qwen2.5, Gemma, GPT-2, T5).
_EOS_CANDIDATES = ("<|end_of_text|>", "<|endoftext|>", "<eos>", "</s>", "<|im_end|>")


@dataclasses.dataclass(frozen=True)
class Framing:
    """How a token sequence is framed for a model (module docstring).

    `begin_id`: the id the model reads first (prepended to every sequence: the feature converter's
    first input, decode's and score's first prompt token), or None when nothing is prepended (then
    the first text token is read first and never predicted). `eos_id` ends targets and stops
    decoding; `pad_id` fills decode's left padding and finished rows.
    """

    begin_id: int | None
    eos_id: int
    pad_id: int


class HFTokenizerVocabulary(seqio.Vocabulary):
    """A HuggingFace `tokenizers` tokenizer.json as a seqio vocabulary.

    `encode` adds no special tokens; the special tokens of the framing come from the tokenizer's
    own encoder (BOS: what `encode(text, add_special_tokens=True)` puts first) and from
    `tokenizer_config.json` beside the file (eos_token, pad_token) when there is one.
    """

    def __init__(self, path: str, eos_token: str | None = None, extra_ids: int = 0):
        from tokenizers import Tokenizer  # lazy: heavy, only when used

        self.path = str(path)
        try:
            self._tokenizer = Tokenizer.from_file(self.path)
        except Exception as err:  # tokenizers raises a bare Exception on a bad file
            raise ValueError(f"{self.path}: not a readable tokenizer.json ({err})") from err
        config_file = os.path.join(os.path.dirname(self.path), "tokenizer_config.json")
        config = {}
        if os.path.isfile(config_file):
            config = json.loads(open(config_file, encoding="utf-8").read())
        self.config_file = config_file if config else None

        def token_name(key: str) -> str | None:
            value = config.get(key)
            return value.get("content") if isinstance(value, dict) else value

        configured = token_name("eos_token")
        names = (eos_token,) if eos_token else ((configured,) if configured else _EOS_CANDIDATES)
        ids = [self._tokenizer.token_to_id(n) for n in names]
        found = [i for i in ids if i is not None]
        if not found:
            where = f" (named by {config_file})" if configured and not eos_token else ""
            raise ValueError(
                f"{self.path}: no EOS token among {names}{where}; the framing needs one: bind "
                "get_vocabulary.eos_token in gin"
            )
        self._eos_id = int(found[0])
        pad = token_name("pad_token")
        pad_id = self._tokenizer.token_to_id(pad) if pad else None
        if pad and pad_id is None:
            raise ValueError(
                f"{self.path}: pad_token {pad!r} of {config_file} is not in the vocabulary"
            )
        self._pad_id = self._eos_id if pad_id is None else int(pad_id)
        # BOS: whatever the tokenizer's own encoder puts before the text.
        plain = self._tokenizer.encode("a", add_special_tokens=False).ids
        full = self._tokenizer.encode("a", add_special_tokens=True).ids
        prefix = full[: len(full) - len(plain)] if full[-len(plain) :] == plain else []
        if len(prefix) > 1:
            raise ValueError(f"{self.path}: the encoder adds {len(prefix)} tokens before text")
        self._bos_id = int(prefix[0]) if prefix else None
        # A configured BOS the encoder does not add (Llama 3's first tokenizer.json revision: its
        # post-processor lost the BOS template) still begins every sequence unless
        # add_bos_token is false (SmolLM2: bos <|im_start|>, add_bos_token false).
        bos = token_name("bos_token")
        if self._bos_id is None and bos and config.get("add_bos_token", True) is not False:
            bos_id = self._tokenizer.token_to_id(bos)
            if bos_id is None:
                raise ValueError(
                    f"{self.path}: bos_token {bos!r} of {config_file} is not in the vocabulary; "
                    "the framing begins every sequence with it"
                )
            self._bos_id = int(bos_id)
        super().__init__(extra_ids=extra_ids)

    @property
    def eos_id(self) -> int:
        return self._eos_id

    @property
    def bos_id(self) -> int | None:
        """The id the tokenizer's own encoder begins every text with, or None."""
        return self._bos_id

    @property
    def framing_pad_id(self) -> int:
        """The tokenizer's pad token (else EOS); `pad_id` stays 0, the batch arrays' padding."""
        return self._pad_id

    def encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        """`encode` of many texts at once (the tokenizer's parallel batch encoder)."""
        return [e.ids for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def decode_many(self, ids: Sequence[Sequence[int]]) -> list[str]:
        """`decode` of many id lists (each cut at EOS) at once."""
        cut = [list(map(int, x)) for x in ids]
        cut = [x[: x.index(self._eos_id)] if self._eos_id in x else x for x in cut]
        return self._tokenizer.decode_batch(cut, skip_special_tokens=False)

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


def framing(vocab: seqio.Vocabulary) -> Framing:
    """The framing rule of `vocab` (module docstring)."""
    if isinstance(vocab, HFTokenizerVocabulary):
        return Framing(begin_id=vocab.bos_id, eos_id=vocab.eos_id, pad_id=vocab.framing_pad_id)
    if vocab.pad_id != 0:
        raise ValueError(
            f"{vocab}: id 0 is not padding (pad_id={vocab.pad_id}) and no BOS is known; the "
            "shift-right 0 would be read as content"
        )
    return Framing(begin_id=0, eos_id=vocab.eos_id, pad_id=0)


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
