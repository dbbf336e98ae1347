"""From problems to a candidates file: tokenise and left-pad prompts, decode in fixed-shape batches
sharded over the mesh, detokenise, extract answers, and append one JSON line per problem.

Resumable: problems whose `unique_id` is already in the output file are skipped, and a line cut
short by a crash is dropped. Sampling keys come from (seed, index of the problem in the full list),
so a resumed or re-batched run writes the same samples.

Multi-host: every process decodes the same batches in lockstep (each computes its devices' shard),
`to_host` gathers the outputs to every process, and only process 0 reads and writes the output
file (`done_ids`, `open_output`); it may be a gs:// URL. The file itself (format, torn-line
resume, appending) is `mathft_jax.candidates`.
"""

import contextlib
import json
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
from mathft_jax.inference.sampling import SamplingConfig

Mesh = jax.sharding.Mesh
PartitionSpec = jax.sharding.PartitionSpec


class ProblemLike(Protocol):
    unique_id: str
    problem: str
    answer: str


def from_process_0(value: Any) -> Any:
    """Process 0's `value` (anything JSON can hold) on every process; `value` itself when the job
    has one process. Every process must call it at the same point (it is a collective)."""
    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils  # noqa: PLC0415

    source = jax.process_index() == 0
    data = np.frombuffer(json.dumps(value).encode() if source else b"", np.uint8).astype(np.int32)
    size = int(multihost_utils.broadcast_one_to_all(np.int32(data.size)))
    buf = np.zeros(size, np.int32)
    buf[: data.size] = data
    buf = np.asarray(multihost_utils.broadcast_one_to_all(buf))
    return json.loads(buf.astype(np.uint8).tobytes().decode())


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


def to_host(x: Any) -> np.ndarray:
    """The whole of `x` as a numpy array on this process.

    `np.asarray` alone fails on an array sharded over devices of other processes (a multi-host
    mesh); such an array is all-gathered (a collective: every process calls this in lockstep).
    """
    if not isinstance(x, jax.Array) or x.is_fully_addressable:
        return np.asarray(x)
    if x.is_fully_replicated:
        return np.asarray(x.addressable_data(0))
    from jax.experimental import multihost_utils  # noqa: PLC0415

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


FROM_VOCAB = "framing"  # bos_id default: the vocabulary's `vocabularies.framing(vocab).begin_id`


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


def batch_sharding(mesh: Mesh | None, data_axes: Sequence[str] = ("data", "fsdp")) -> Any:
    """Sharding of the batch axis over the mesh's data axes (those of `data_axes` it has)."""
    if mesh is None:
        return None
    axes = tuple(a for a in data_axes if a in mesh.axis_names)
    return jax.sharding.NamedSharding(mesh, PartitionSpec(axes or None))


def place_params(params: Any, mesh: Mesh | None) -> Any:
    """Replicates host/one-device params over the mesh; leaves already-sharded params alone."""
    if mesh is None:
        return params
    replicated = jax.sharding.NamedSharding(mesh, PartitionSpec())

    def put(x):
        sharding = getattr(x, "sharding", None)
        if isinstance(sharding, jax.sharding.NamedSharding) and sharding.mesh == mesh:
            return x
        return jax.device_put(x, replicated)

    return jax.tree.map(put, params)


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
    batch_size: int,
    num_samples: int,
    max_prompt_len: int,
    max_decode_len: int,
    sampling: SamplingConfig,
    seed: int,
    include_greedy: bool,
    stops: Sequence[str] = (),
    mesh: Mesh | None = None,
    bos_id: Any = FROM_VOCAB,
) -> list[list[str]]:
    """Decodes every prompt; yields per prompt [greedy?, sample_0 .. sample_{N-1}] texts.

    Shapes stay fixed across batches (the last batch is padded with copies of its first prompt), so
    the decode step compiles once.
    """
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
        tokens, segs, truncated = encode_prompts(vocab, chunk, max_prompt_len, bos_id)
        if truncated:
            logging.warning(
                "%d prompts longer than max_prompt_len=%d kept their tail",
                truncated,
                max_prompt_len,
            )
        keys = decoding.problem_keys(seed, np.asarray(chunk_ids))
        args = [jnp.asarray(tokens), jnp.asarray(segs), keys]
        if sharding is not None:
            args = [jax.device_put(a, sharding) for a in args]
        out, lengths = decoding.decode(
            params,
            *args,
            model=model,
            num_samples=num_samples,
            max_decode_len=max_decode_len,
            sampling=sampling,
            eos_id=vocab.eos_id,
            pad_id=vocabularies.framing(vocab).pad_id,
            include_greedy=include_greedy,
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
    batch_size: int,
    num_samples: int,
    max_prompt_len: int,
    max_decode_len: int,
    sampling: SamplingConfig,
    seed: int,
    include_greedy: bool = True,
    stops: Sequence[str] = (),
    mesh: Mesh | None = None,
    meta: dict[str, Any] | None = None,
    extract_fn: Callable[[str], str | None] | None = None,
    bos_id: Any = FROM_VOCAB,
) -> int:
    """Appends one candidates record per problem not yet in `output_path`; returns how many.

    Records follow WORKSPACE.md ("Candidates file"): unique_id, problem, answer, greedy (when
    `include_greedy`), samples, sample_answers and meta (sampling settings, seed, plus `meta`).
    """
    if extract_fn is None:
        from mathft_jax.grading import extract_answer as extract_fn  # noqa: PLC0415
    done = done_ids(output_path)
    todo = [(i, p) for i, p in enumerate(problems) if p.unique_id not in done]
    logging.info("%s: %d problems done, %d to decode", output_path, len(done), len(todo))
    record_meta = {
        "seed": seed,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "top_k": sampling.top_k,
        "num_samples": num_samples,
        "max_decode_len": max_decode_len,
        "max_prompt_len": max_prompt_len,
        **(meta or {}),
    }
    params = place_params(params, mesh)
    written = 0
    with open_output(output_path) as out:
        # Decode a batch at a time and write it at once, so a crash loses at most one batch.
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            texts = generate(
                params,
                [prompt_fn(p.problem) for _, p in chunk],
                [i for i, _ in chunk],
                model=model,
                vocab=vocab,
                batch_size=batch_size,
                num_samples=num_samples,
                max_prompt_len=max_prompt_len,
                max_decode_len=max_decode_len,
                sampling=sampling,
                seed=seed,
                include_greedy=include_greedy,
                stops=stops,
                mesh=mesh,
                bos_id=bos_id,
            )
            for (_, problem), rows in zip(chunk, texts):
                greedy, samples = (rows[0], rows[1:]) if include_greedy else (None, rows)
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
