"""Small fakes for trainer tests: a tiny model config, a deterministic batch iterator, gin text.

The iterator follows `data.pipeline.batch_iterator`'s signature: batch k depends only on
(seed, split, k), host `shard_index` takes rows `shard_index::num_shards`. Env vars let
subprocess tests inject faults at a step: MATHFT_TEST_KILL_AT_STEP (SIGKILL itself) and
MATHFT_TEST_SIGTERM_AT_STEP (SIGTERM itself) when that step's batch is requested.
"""

import os
import signal
from collections.abc import Iterator

import gin
import numpy as np

from mathft_jax.models import ModelConfig

VOCAB = 32
TINY = ModelConfig(
    vocab_size=VOCAB, embed_dim=32, num_layers=1, num_heads=2, num_kv_heads=2, head_dim=16,
    mlp_dim=64, tie_embeddings=False,
)  # fmt: skip


def make_rows(rng: np.random.Generator, rows: int, prompt: int, target: int) -> dict:
    """Rows `prompt tokens ++ target tokens`, target token t = (previous token + 1) % VOCAB."""
    length = prompt + target
    first = rng.integers(1, VOCAB, size=(rows, 1))
    seq = (first + np.arange(length + 1)[None, :]) % (VOCAB - 1) + 1  # [rows, length + 1]
    weights = np.zeros((rows, length), np.int32)
    weights[:, prompt - 1 :] = 1
    return {
        "decoder_input_tokens": seq[:, :-1].astype(np.int32),
        "decoder_target_tokens": seq[:, 1:].astype(np.int32),
        "decoder_loss_weights": weights,
        "decoder_positions": np.tile(np.arange(length, dtype=np.int32), (rows, 1)),
        "decoder_segment_ids": np.ones((rows, length), np.int32),
    }


@gin.configurable
def fake_batch_iterator(
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
    vocabulary: object = None,
) -> Iterator[dict]:
    """Deterministic synthetic batches; `split` != "train" gives 2 batches then stops."""
    kill_at = int(os.environ.get("MATHFT_TEST_KILL_AT_STEP", "-1"))
    term_at = int(os.environ.get("MATHFT_TEST_SIGTERM_AT_STEP", "-1"))
    prompt, target = feature_lengths["inputs"], feature_lengths["targets"]
    step = start_step
    while split == "train" or step < 2:
        if split == "train" and step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if split == "train" and step == term_at:
            os.kill(os.getpid(), signal.SIGTERM)
        rng = np.random.default_rng([seed, 0 if split == "train" else 1, step])
        batch = make_rows(rng, batch_size, prompt, target)
        yield {k: v[shard_index::num_shards] for k, v in batch.items()}
        step += 1


@gin.configurable
class FakeVocab:
    """Only what the trainer asks of a vocabulary (nothing, for MLE objectives)."""

    eos_id = 1


def gin_text(model_dir: str, steps: int, extra: tuple[str, ...] = ()) -> str:
    """A complete run config for the fake task and tiny model (no repo gin files needed)."""
    lines = [
        "import train_fakes",
        "import mathft_jax.training.trainer",
        "import mathft_jax.training.objectives",
        "import mathft_jax.training.optimizers",
        "import mathft_jax.runtime.partitioning",
        f"TrainLoopConfig.model_dir = '{model_dir}'",
        "TrainLoopConfig.stage = 'ssft'",
        f"TrainLoopConfig.train_steps = {steps}",
        "TrainLoopConfig.task_name = 'fake'",
        "TrainLoopConfig.feature_lengths = {'inputs': 4, 'targets': 12}",
        "TrainLoopConfig.batch_size = 8",
        "train.model_config = @train_fakes.tiny_config()",
        "train.batch_iterator_fn = @train_fakes.fake_batch_iterator",
        "train.vocabulary = @train_fakes.FakeVocab()",
        "TrainLoopConfig.log_every = 1",
        "CheckpointConfig.every = 2",
        "CheckpointConfig.keep_last = 10",
        "ValidationConfig.every = 0",
        "make_schedule.peak_learning_rate = 3e-3",
        "make_schedule.decay = 'constant'",
        "make_mesh.shape = (-1, 1, 1)",
    ]
    lines += list(extra)
    return "\n".join(lines) + "\n"


@gin.configurable
def tiny_config() -> ModelConfig:
    return TINY


LABEL_IDS = (3, 4)  # (correct, incorrect) token ids of the fake verifier task


def fake_verifier_iterator(
    task_name: str,
    split: str,
    batch_size: int,
    feature_lengths: dict[str, int],
    *,
    seed: int = 0,
    shard_index: int = 0,
    num_shards: int = 1,
    start_step: int = 0,
    **_: object,
) -> Iterator[dict]:
    """Verifier rows `prompt -> label`: "correct" iff the last prompt token is even."""
    prompt = feature_lengths["inputs"]
    step = start_step
    while split == "train" or step < 2:
        rng = np.random.default_rng([seed, 0 if split == "train" else 1, step])
        rows = batch_size
        tokens = rng.integers(5, VOCAB, size=(rows, prompt + 2))
        label = np.where(tokens[:, prompt - 1] % 2 == 0, LABEL_IDS[0], LABEL_IDS[1])
        tokens[:, prompt] = label
        tokens[:, prompt + 1] = 1  # EOS
        weights = np.zeros((rows, prompt + 1), np.int32)
        weights[:, prompt - 1 :] = 1
        batch = {
            "decoder_input_tokens": tokens[:, :-1].astype(np.int32),
            "decoder_target_tokens": tokens[:, 1:].astype(np.int32),
            "decoder_loss_weights": weights,
            "decoder_positions": np.tile(np.arange(prompt + 1, dtype=np.int32), (rows, 1)),
            "decoder_segment_ids": np.ones((rows, prompt + 1), np.int32),
        }
        yield {k: v[shard_index::num_shards] for k, v in batch.items()}
        step += 1
