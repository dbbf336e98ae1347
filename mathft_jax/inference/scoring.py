"""Verifier scoring of a candidates file: S_cls = p(correct) / (p(correct) + p(incorrect)), read off
the verifier's next-token distribution after the verifier prompt (paper Sec. 3.2, re-ranking).

Each (problem, sample) pair becomes one left-padded row; the score is the two-way softmax of the
label logits at the last prompt position, which equals p(c) / (p(c) + p(i)) and is what the
trainer's `verifier_log_scores` computes. Records are written in input order once all their samples
are scored; a restarted job skips records already in the output file. With several processes,
each reads the candidates file, the scores are gathered to all, and only process 0 writes (as in
`generation`); either file may be a gs:// URL. Reading, validating and writing records is
`mathft_jax.candidates`.
"""

import dataclasses
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mathft_jax import candidates
from mathft_jax.inference import decoding, generation
from mathft_jax.runtime import multihost

VerifierPromptFn = Callable[[str, str], str]


def label_token_ids(vocab: Any, correct_word: str, incorrect_word: str) -> tuple[int, int]:
    """First token of each label word; they must differ or the score means nothing."""
    correct, incorrect = vocab.encode(correct_word), vocab.encode(incorrect_word)
    if not correct or not incorrect or correct[0] == incorrect[0]:
        raise ValueError(
            f"verifier label words {correct_word!r} / {incorrect_word!r} must start with different "
            f"tokens (got {correct[:1]} / {incorrect[:1]}); change score_candidates.correct_word"
        )
    return correct[0], incorrect[0]


@jax.jit(static_argnames=("model",))
def verifier_scores(
    params: Any,
    tokens: jax.Array,
    segment_ids: jax.Array,
    label_ids: jax.Array,
    *,
    model: decoding.ModelFns,
) -> jax.Array:
    """S_cls for each left-padded row.

    Args:
      tokens, segment_ids: int32 [batch, length], left-padded verifier prompts.
      label_ids: int32 [2], the (correct, incorrect) token ids.

    Returns:
      f32 [batch] p(correct) / (p(correct) + p(incorrect)).
    """
    positions = decoding.prompt_positions(segment_ids)
    if model.last_label_logits is not None:  # two head columns: no [batch, length, vocab] logits
        label_logits = model.last_label_logits(params, tokens, positions, segment_ids, label_ids)
    else:
        logits, _ = model.apply(params, tokens, positions, segment_ids, None)
        label_logits = logits[:, -1, :].astype(jnp.float32)[:, label_ids]  # [batch, 2]
    return jnp.exp(jax.nn.log_softmax(label_logits, axis=-1)[:, 0])


def _record_groups(
    records: Iterator[candidates.Candidates], batch_size: int
) -> Iterator[list[candidates.Candidates]]:
    """Groups whole records until they hold at least `batch_size` samples."""
    group, count = [], 0
    for record in records:
        group.append(record)
        count += len(record.samples)
        if count >= batch_size:
            yield group
            group, count = [], 0
    if group:
        yield group


def score_candidates(
    candidates_path: str,
    output_path: str,
    *,
    params: Any,
    model: decoding.ModelFns,
    vocab: Any,
    prompt_fn: VerifierPromptFn,
    batch_size: int,
    max_len: int,
    correct_word: str = "correct",
    incorrect_word: str = "incorrect",
    mesh: jax.sharding.Mesh | None = None,
    bos_id: Any = generation.FROM_VOCAB,
    meta: dict[str, Any] | None = None,
) -> int:
    """Copies `candidates_path` to `output_path` with `verifier_scores` added; returns records written.

    Args:
      prompt_fn: (problem, solution) -> verifier prompt (`mathft_jax.data.prompts.verifier_prompt`).
      batch_size: rows per forward pass (fixed, so it compiles once; divisible by the data shards).
      max_len: tokens per row; longer prompts keep their tail (the solution's end and the question).
      meta: merged into each record's `meta` under "verifier" (e.g. the checkpoint path).
    """
    label_ids = jnp.asarray(label_token_ids(vocab, correct_word, incorrect_word), jnp.int32)
    done = generation.done_ids(output_path)
    sharding = multihost.batch_sharding(mesh)
    params = multihost.place_params(params, mesh)

    def todo() -> Iterator[candidates.Candidates]:
        for record in candidates.iter_candidates(candidates_path):
            if record.unique_id not in done:
                yield record

    written = truncated = 0
    with generation.open_output(output_path) as out:
        for group in _record_groups(todo(), batch_size):
            prompts = [prompt_fn(r.problem, s) for r in group for s in r.samples]
            scores: list[float] = []
            for start in range(0, len(prompts), batch_size):
                chunk = prompts[start : start + batch_size]
                padded = chunk + [chunk[0]] * (batch_size - len(chunk))
                tokens, segs, cut = generation.encode_prompts(vocab, padded, max_len, bos_id)
                truncated += cut
                args = [jnp.asarray(tokens), jnp.asarray(segs)]
                if sharding is not None:
                    args = [jax.device_put(a, sharding) for a in args]
                batch_scores = verifier_scores(params, *args, label_ids, model=model)
                scores.extend(multihost.to_host(batch_scores)[: len(chunk)].tolist())
            for record in group:
                n = len(record.samples)
                record_meta = {**record.meta, "verifier": meta} if meta else record.meta
                record = dataclasses.replace(
                    record, verifier_scores=tuple(scores[:n]), meta=record_meta
                )
                scores = scores[n:]
                out.write(candidates.format_line(record))
                written += 1
            out.flush()  # once a group (a bucket file is uploaded whole at each flush)
    if truncated:
        logging.warning(
            "%d verifier prompts longer than max_len=%d kept their tail", truncated, max_len
        )
    return written


def score_texts(
    params: Any,
    pairs: Sequence[tuple[str, str]],
    *,
    model: decoding.ModelFns,
    vocab: Any,
    prompt_fn: VerifierPromptFn,
    max_len: int,
    correct_word: str = "correct",
    incorrect_word: str = "incorrect",
    bos_id: Any = generation.FROM_VOCAB,
) -> np.ndarray:
    """S_cls of a few (problem, solution) pairs in one batch (tests, notebooks)."""
    label_ids = jnp.asarray(label_token_ids(vocab, correct_word, incorrect_word), jnp.int32)
    prompts = [prompt_fn(p, s) for p, s in pairs]
    tokens, segs, _ = generation.encode_prompts(vocab, prompts, max_len, bos_id)
    return multihost.to_host(
        verifier_scores(params, jnp.asarray(tokens), jnp.asarray(segs), label_ids, model=model)
    )
