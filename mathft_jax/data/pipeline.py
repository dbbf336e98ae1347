"""The batch pipeline the trainer consumes: deterministic, resumable, host-sharded numpy batches.

A task's examples are small, so they are tokenized once and kept in memory; batch k is then built
by indexing: epoch e is a permutation seeded by (seed, e), the stream of epochs is cut into global
batches of `batch_size` rows, and host `shard_index` takes rows `shard_index::num_shards`. Batch k
depends only on (task, split, seed, k, shard), so `start_step=S` jumps straight to batch S.

Example:
    it = batch_iterator("synth_ssft", "train", 32, {"inputs": 32, "targets": 96})
    batch = next(it)  # {"decoder_input_tokens": int32[32, 128], ...}
Pair tasks yield {"pos": {...}, "neg": {...}[, "gen": {...}]} with the same arrays per group.
"""

import dataclasses
import logging
from collections.abc import Iterator

import gin
import numpy as np
import seqio

from mathft_jax.data import feature_converters as fc
from mathft_jax.data import registry, tasks, vocabularies

log = logging.getLogger(__name__)

TokenPair = tuple[np.ndarray, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Tokenized:
    """A task split, tokenized: examples[i][g] is group g's (inputs, targets); targets end in EOS."""

    groups: tuple[str, ...]
    examples: list[tuple[TokenPair, ...]]
    begin_id: int | None = 0  # the vocabulary's Framing.begin_id (feature_converters.convert_rows)


_CACHE: dict[tuple, Tokenized] = {}


def tokenize_split(task_name: str, split: str, vocabulary: seqio.Vocabulary) -> Tokenized:
    """Tokenizes a task split once per process.

    Cached by task registration (a re-registered name is rebuilt), split, vocabulary and the gin
    config (which sets e.g. the synth sizes).
    """
    tasks.register_builtin_tasks()  # idempotent; pool tasks are registered by their caller
    task = registry.get_task(task_name)
    key = (task, split, vocabularies.vocabulary_key(vocabulary), gin.config_str())
    if key not in _CACHE:
        eos = np.asarray([vocabulary.eos_id], np.int32)
        examples = []
        for ex in task.examples(split):
            row = []
            for group in task.groups:
                ik, tk = registry.feature_keys(group)
                inputs = np.asarray(vocabulary.encode(ex[ik]), np.int32)
                targets = np.concatenate([np.asarray(vocabulary.encode(ex[tk]), np.int32), eos])
                row.append((inputs, targets))
            examples.append(tuple(row))
        if not examples:
            raise ValueError(f"task {task_name!r} split {split!r} has no examples")
        begin_id = vocabularies.framing(vocabulary).begin_id
        _CACHE[key] = Tokenized(task.groups, examples, begin_id)
    return _CACHE[key]


def clear_cache() -> None:
    """Drops every tokenized split (e.g. to free memory between stages)."""
    _CACHE.clear()


def group_lengths(feature_lengths: dict[str, int], group: str) -> tuple[int, int]:
    """(inputs, targets) lengths of a group: `pos_inputs` etc. override the shared `inputs`."""
    ik, tk = registry.feature_keys(group)
    try:
        return feature_lengths.get(ik, feature_lengths["inputs"]), feature_lengths.get(
            tk, feature_lengths["targets"]
        )
    except KeyError as err:
        raise ValueError(
            f"feature_lengths (TASK_FEATURE_LENGTHS) needs 'inputs' and 'targets', got {feature_lengths}"
        ) from err


def _epoch_order(n: int, seed: int, epoch: int, shuffle: bool) -> np.ndarray:
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng([seed, epoch]).permutation(n)


@gin.configurable(denylist=["task_name", "split", "batch_size", "feature_lengths"])
def batch_iterator(
    task_name: str,
    split: str,
    batch_size: int,
    feature_lengths: dict[str, int],
    *,
    seed: int = 0,
    shuffle: bool = True,
    repeat: bool = True,
    pack: bool = False,
    shard_index: int = 0,
    num_shards: int = 1,
    start_step: int = 0,
    vocabulary: seqio.Vocabulary | None = None,
    overlong: str = "truncate",
) -> Iterator[dict]:
    """Yields host-local batches of `batch_size // num_shards` rows (see module docstring).

    Args:
      overlong: "truncate" or "drop" examples longer than `feature_lengths` (counts are logged).
      repeat: False gives one epoch; its last batch is filled with all-padding rows.
    """
    if batch_size % num_shards:
        raise ValueError(f"batch_size {batch_size} is not divisible by num_shards {num_shards}")
    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard_index {shard_index} not in [0, {num_shards})")
    if overlong not in ("truncate", "drop"):
        raise ValueError(f'batch_iterator.overlong must be "truncate" or "drop", got {overlong!r}')
    vocabulary = vocabulary or vocabularies.get_vocabulary()
    data = tokenize_split(task_name, split, vocabulary)
    if pack and len(data.groups) > 1:
        raise ValueError(f"pack=True is not supported for pair task {task_name!r}: rows must align")
    lengths = {g: group_lengths(feature_lengths, g) for g in data.groups}
    examples = _apply_overlong(data, lengths, overlong, f"{task_name}/{split}")
    if not examples:
        raise ValueError(f"{task_name}/{split}: every example was dropped as overlong")
    return _iterate(examples, data.groups, lengths, batch_size, seed, shuffle, repeat, pack,
                    shard_index, num_shards, start_step, data.begin_id)  # fmt: skip


def _apply_overlong(
    data: Tokenized, lengths: dict[str, tuple[int, int]], overlong: str, where: str
) -> list[tuple[TokenPair, ...]]:
    out, too_long = [], 0
    for ex in data.examples:
        ok = all(fc.fits(i, t, *lengths[g]) for g, (i, t) in zip(data.groups, ex))
        too_long += not ok
        if ok:
            out.append(ex)
        elif overlong == "truncate":
            out.append(tuple(fc.truncate(i, t, *lengths[g]) for g, (i, t) in zip(data.groups, ex)))
    if too_long:
        verb = "truncated" if overlong == "truncate" else "dropped"
        log.warning(
            "%s: %d of %d examples exceed feature lengths %s and were %s",
            where, too_long, len(data.examples), lengths, verb,
        )  # fmt: skip
    return out


def _iterate(examples, groups, lengths, batch_size, seed, shuffle, repeat, pack, shard_index,
             num_shards, start_step, begin_id=0) -> Iterator[dict]:  # fmt: skip
    n = len(examples)
    (only_group,) = groups if len(groups) == 1 else (None,)
    row_length = {g: sum(lengths[g]) for g in groups}
    units_per_epoch: dict[int, list[list[int]]] = {}

    def epoch_units(epoch: int) -> list[list[int]]:
        """The epoch's rows as lists of example indices (one each unless packing)."""
        if epoch not in units_per_epoch:
            order = _epoch_order(n, seed, epoch, shuffle)
            if pack:
                g = groups[0]
                sizes = [len(examples[i][0][0]) + len(examples[i][0][1]) for i in order]
                rows = [
                    [int(order[j]) for j in row] for row in fc.pack_greedy(sizes, row_length[g])
                ]
            else:
                rows = [[int(i)] for i in order]
            units_per_epoch.clear()  # keep memory flat: only the current epoch is needed
            units_per_epoch[epoch] = rows
        return units_per_epoch[epoch]

    # Locate the first row of batch `start_step`: epochs before it are skipped by row counts only.
    epoch, offset = 0, start_step * batch_size
    while offset >= len(epoch_units(epoch)):
        if not repeat:
            return
        offset -= len(epoch_units(epoch))
        epoch += 1

    while True:
        rows: list[list[int]] = []
        exhausted = False
        while len(rows) < batch_size:
            units = epoch_units(epoch)
            take = units[offset : offset + batch_size - len(rows)]
            rows.extend(take)
            offset += len(take)
            if offset >= len(units):
                if not repeat:
                    exhausted = True
                    break
                epoch, offset = epoch + 1, 0
        rows = rows + [[]] * (
            batch_size - len(rows)
        )  # all-padding rows, only at the end of repeat=False
        local = rows[shard_index::num_shards]
        batch = {
            g: fc.convert_rows(
                [[examples[i][k] for i in row] for row in local], row_length[g], begin_id
            )
            for k, g in enumerate(groups)
        }
        yield batch[only_group] if only_group is not None else batch
        if exhausted:
            return
