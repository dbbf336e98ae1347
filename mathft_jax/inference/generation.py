"""From problems to a candidates file: tokenise and left-pad prompts, decode in fixed-shape batches
sharded over the mesh, detokenise, extract answers, and append one JSON line per problem.

Resumable: problems whose `unique_id` is already in the output file are skipped, and a line cut
short by a crash is dropped. Sampling keys come from (seed, index of the problem in the full list),
so a resumed or re-batched run writes the same samples.

Multi-host: every process decodes the same batches in lockstep (each computes its devices' shard),
`runtime.multihost.to_host` gathers the outputs to every process, and only process 0 reads and
writes the output file (`done_ids`, `open_output`); it may be a gs:// URL. The file itself (format,
torn-line resume, appending) is `mathft_jax.candidates`.
"""

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from mathft_jax import candidates
from mathft_jax.data import vocabularies
from mathft_jax.inference import decoding
from mathft_jax.inference.prompting import PromptFn, truncate_at_stops
from mathft_jax.runtime.multihost import batch_sharding, from_process_0, place_params, to_host

Mesh = jax.sharding.Mesh


class ProblemLike(Protocol):
    unique_id: str
    problem: str
    answer: str


def done_ids(path: str) -> set[str]:
    """`candidates.read_done_ids(path)` as process 0 reads it, on every process.

    Only process 0 touches the output file (the hosts of a pod need not share a disk), and every
    process must skip the same problems, since they decode each batch together.
    """
    done = sorted(candidates.read_done_ids(path)) if jax.process_index() == 0 else None
    return set(from_process_0(done))


@contextlib.contextmanager
def open_output(path: str) -> Iterator[IO[str]]:
    """`candidates.open_append(path)` on process 0; elsewhere a sink, so each record is written
    once however many processes decode it."""
    if jax.process_index() != 0:
        with open(os.devnull, "w", encoding="utf-8") as sink:
            yield sink
        return
    with candidates.open_append(path) as out:
        yield out


FROM_VOCAB = decoding.FROM_VOCAB  # bos_id default: `vocabularies.framing(vocab).begin_id`


def encode_prompts(
    vocab: Any, prompts: Sequence[str], max_prompt_len: int, bos_id: Any = FROM_VOCAB
) -> tuple[np.ndarray, np.ndarray, int]:
    """Tokenises and left-pads prompts to [len(prompts), max_prompt_len].

    What begins each prompt is the vocabulary's framing (`vocabularies.framing`), the same as
    training's first input: the tokenizer's BOS, nothing, or the shift-right 0 of the byte
    vocabulary; an explicit `bos_id` (int or None) overrides it. Padding is the framing's pad id
    (masked by segment id 0). Over-long prompts keep their tail (the part next to the answer).
    Returns (tokens, segment_ids, number of prompts truncated).
    """
    frame = vocabularies.framing(vocab)
    if bos_id == FROM_VOCAB:
        bos_id = frame.begin_id
    tokens = np.full((len(prompts), max_prompt_len), frame.pad_id, np.int32)
    segs = np.zeros_like(tokens)
    truncated = 0
    for i, prompt in enumerate(prompts):
        ids = ([] if bos_id is None else [bos_id]) + list(vocab.encode(prompt))
        if len(ids) > max_prompt_len:
            truncated += 1
            ids = ids[-max_prompt_len:]
        tokens[i, max_prompt_len - len(ids) :] = ids
        segs[i, max_prompt_len - len(ids) :] = 1
    return tokens, segs, truncated


def decode_texts(
    ids: np.ndarray, lengths: np.ndarray, vocab: Any, eos_id: int, stops: Sequence[str] = ()
) -> list[str]:
    """One row of token ids -> text, without the EOS and anything after a stop string."""
    texts = []
    for row, n in zip(ids, lengths):
        row = row[:n].tolist()
        if row and row[-1] == eos_id:
            row = row[:-1]
        texts.append(truncate_at_stops(vocab.decode(row), stops))
    return texts


def generate(
    params: Any,
    prompts: Sequence[str],
    indices: Sequence[int],
    *,
    model: decoding.ModelFns,
    vocab: Any,
    config: decoding.DecodeConfig,
    stops: Sequence[str] = (),
    mesh: Mesh | None = None,
) -> list[list[str]]:
    """Decodes every prompt; yields per prompt [greedy?, sample_0 .. sample_{N-1}] texts.

    `config.batch_size` prompts go to each `decoding.decode` call, left-padded to
    `config.max_prompt_len`. Shapes stay fixed across batches (the last batch is padded with copies
    of its first prompt), so the decode step compiles once.
    """
    batch_size, max_prompt_len = config.batch_size, config.max_prompt_len
    if mesh is not None:
        axes = batch_sharding(mesh).spec[0] or ()
        axes = (axes,) if isinstance(axes, str) else axes  # P(("data",)) may read back as "data"
        shards = int(np.prod([mesh.shape[a] for a in axes]))
        if batch_size % shards:
            raise ValueError(
                f"batch_size={batch_size} must divide by the {shards} data shards (gin)"
            )
    sharding = batch_sharding(mesh)
    results: list[list[str]] = []
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start : start + batch_size])
        chunk_ids = list(indices[start : start + batch_size])
        real = len(chunk)
        chunk += [chunk[0]] * (batch_size - real)
        chunk_ids += [chunk_ids[0]] * (batch_size - real)
        tokens, segs, truncated = encode_prompts(vocab, chunk, max_prompt_len, config.bos_id)
        if truncated:
            logging.warning(
                "%d prompts longer than max_prompt_len=%d kept their tail",
                truncated,
                max_prompt_len,
            )
        keys = decoding.problem_keys(config.seed, np.asarray(chunk_ids))
        args = [jnp.asarray(tokens), jnp.asarray(segs), keys]
        if sharding is not None:
            args = [jax.device_put(a, sharding) for a in args]
        out, lengths = decoding.decode(
            params,
            *args,
            model=model,
            config=config,
            eos_id=vocab.eos_id,
            pad_id=vocabularies.framing(vocab).pad_id,
        )
        out, lengths = to_host(out), to_host(lengths)
        for b in range(real):
            results.append(decode_texts(out[b], lengths[b], vocab, vocab.eos_id, stops))
    return results


def decode_problems(
    problems: Sequence[ProblemLike],
    output_path: str,
    *,
    params: Any,
    model: decoding.ModelFns,
    vocab: Any,
    prompt_fn: PromptFn,
    config: decoding.DecodeConfig,
    stops: Sequence[str] = (),
    mesh: Mesh | None = None,
    meta: dict[str, Any] | None = None,
    extract_fn: Callable[[str], str | None] | None = None,
) -> int:
    """Appends one candidates record per problem not yet in `output_path`; returns how many.

    Records follow WORKSPACE.md ("Candidates file"): unique_id, problem, answer, greedy (when
    `config.include_greedy`), samples, sample_answers and meta (sampling settings, seed, plus
    `meta`).
    """
    if extract_fn is None:
        from mathft_jax.grading import extract_answer as extract_fn
    done = done_ids(output_path)
    todo = [(i, p) for i, p in enumerate(problems) if p.unique_id not in done]
    logging.info("%s: %d problems done, %d to decode", output_path, len(done), len(todo))
    record_meta = {
        "seed": config.seed,
        "temperature": config.sampling.temperature,
        "top_p": config.sampling.top_p,
        "top_k": config.sampling.top_k,
        "num_samples": config.num_samples,
        "max_decode_len": config.max_decode_len,
        "max_prompt_len": config.max_prompt_len,
        **(meta or {}),
    }
    params = place_params(params, mesh)
    written = 0
    with open_output(output_path) as out:
        # Decode a batch at a time and write it at once, so a crash loses at most one batch.
        for start in range(0, len(todo), config.batch_size):
            chunk = todo[start : start + config.batch_size]
            texts = generate(
                params,
                [prompt_fn(p.problem) for _, p in chunk],
                [i for i, _ in chunk],
                model=model,
                vocab=vocab,
                config=config,
                stops=stops,
                mesh=mesh,
            )
            for (_, problem), rows in zip(chunk, texts):
                greedy, samples = (rows[0], rows[1:]) if config.include_greedy else (None, rows)
                record = candidates.Candidates(
                    unique_id=problem.unique_id,
                    problem=problem.problem,
                    answer=problem.answer,
                    samples=tuple(samples),
                    greedy=greedy,
                    sample_answers=tuple(extract_fn(s) for s in samples),
                    meta=record_meta,
                )
                out.write(candidates.format_line(record))
                written += 1
            # Once a batch, not once a record: a bucket file is uploaded whole at each flush.
            out.flush()
            logging.info("decoded %d / %d problems", start + len(chunk), len(todo))
    return written
