"""Decoder-only feature conversion: (inputs, targets) token lists -> the batch arrays of WORKSPACE.md.

seqio's PrefixLMFeatureConverter semantics (the input is a prefix, loss only on targets, optional
packing) in plain numpy, outputting exactly:
`decoder_input_tokens, decoder_target_tokens, decoder_loss_weights, decoder_positions,
decoder_segment_ids`, each int32 `[batch, length]`.

Worked example (one row, length 6, inputs [5, 6], targets [7, 1]):
  decoder_target_tokens [5, 6, 7, 1, 0, 0]
  decoder_input_tokens  [0, 5, 6, 7, 0, 0]   (shifted right within the example)
  decoder_loss_weights  [0, 0, 1, 1, 0, 0]
  decoder_positions     [0, 1, 2, 3, 0, 0]
  decoder_segment_ids   [1, 1, 1, 1, 0, 0]

`begin_id` (the vocabulary's `Framing.begin_id`) is the first input of each example: 0 above (byte
vocabulary), the tokenizer's BOS for Llama 3 / Gemma. With `begin_id=None` (Qwen, SmolLM2: nothing
begins a sequence) the example is read as is: inputs [5, 6, 7] and targets [1] give
decoder_input_tokens [5, 6, 7], decoder_target_tokens [6, 7, 1], loss weights [0, 0, 1].
"""

from collections.abc import Sequence

import numpy as np

ARRAY_NAMES = (
    "decoder_input_tokens",
    "decoder_target_tokens",
    "decoder_loss_weights",
    "decoder_positions",
    "decoder_segment_ids",
)

Pair = tuple[np.ndarray, np.ndarray]  # (inputs, targets) token ids of one example


def fits(inputs: np.ndarray, targets: np.ndarray, input_length: int, target_length: int) -> bool:
    """Whether an example fits its feature lengths without truncation."""
    return len(inputs) <= input_length and len(targets) <= target_length


def truncate(
    inputs: np.ndarray, targets: np.ndarray, input_length: int, target_length: int
) -> Pair:
    """Cuts an example to its feature lengths.

    Inputs keep their *last* tokens (the prompt template's end, which the model continues from);
    targets keep their first tokens (seqio's right truncation).
    """
    if len(inputs) > input_length:
        inputs = inputs[len(inputs) - input_length :] if input_length > 0 else inputs[:0]
    return inputs, targets[:target_length]


def pack_greedy(lengths: Sequence[int], row_length: int) -> list[list[int]]:
    """Packs examples, in the given order, into rows: a row is closed when the next one does not fit.

    Returns each row as a list of positions into `lengths`. Order-preserving, so a packing depends
    only on the order it is given (and so on the epoch's seeded permutation).
    """
    rows: list[list[int]] = []
    current: list[int] = []
    used = 0
    for i, n in enumerate(lengths):
        if n > row_length:
            raise ValueError(f"example {i} has {n} tokens, more than the row length {row_length}")
        if current and used + n > row_length:
            rows.append(current)
            current, used = [], 0
        current.append(i)
        used += n
    if current:
        rows.append(current)
    return rows


def convert_rows(
    rows: Sequence[Sequence[Pair]], length: int, begin_id: int | None = 0
) -> dict[str, np.ndarray]:
    """Rows of (inputs, targets) examples -> the five int32 `[len(rows), length]` arrays.

    An empty row is all padding (zero loss weight, segment id 0). Each row's examples must fit.
    `begin_id`: what each example's first input is (module docstring); None: nothing prepended.
    """
    out = {name: np.zeros((len(rows), length), np.int32) for name in ARRAY_NAMES}
    for r, row in enumerate(rows):
        pos = 0
        for seg, (inputs, targets) in enumerate(row, start=1):
            seq = np.concatenate([inputs, targets]).astype(np.int32)
            first_loss = len(inputs)
            if begin_id is None:  # read the sequence as is: its first token is never predicted
                if not len(inputs):
                    raise ValueError(f"row {r}: begin_id=None needs non-empty inputs")
                read, seq, first_loss = seq[:-1], seq[1:], len(inputs) - 1
            else:
                read = np.concatenate([[begin_id], seq[:-1]]).astype(np.int32)
            n = len(seq)
            if pos + n > length:
                raise ValueError(f"row {r}: examples need {pos + n} tokens, row length is {length}")
            out["decoder_target_tokens"][r, pos : pos + n] = seq
            out["decoder_input_tokens"][r, pos : pos + n] = read
            out["decoder_loss_weights"][r, pos + first_loss : pos + n] = 1
            out["decoder_positions"][r, pos : pos + n] = np.arange(n)
            out["decoder_segment_ids"][r, pos : pos + n] = seg
            pos += n
    return out
