"""The registry's tasks as seqio Tasks/Mixtures, and a seqio feature converter with our arrays.

For T5X-style use (`seqio.get_mixture_or_task(name).get_dataset(...)` and a feature converter).
The training pipeline itself (`pipeline.py`) does not go through TensorFlow; this module lets the
same tasks plug into seqio tools (caching, inspection, T5X's own loops).
"""

import functools
from collections.abc import Mapping

import seqio
import tensorflow as tf

from mathft_jax.data import registry, tasks, vocabularies

_ARRAYS = (
    "decoder_target_tokens",
    "decoder_input_tokens",
    "decoder_loss_weights",
    "decoder_positions",
    "decoder_segment_ids",
)


class DecoderOnlyFeatureConverter(seqio.PrefixLMFeatureConverter):
    """seqio's PrefixLM semantics (loss on targets only, optional packing), outputting exactly the
    five WORKSPACE.md arrays: no `decoder_causal_attention` (our decoder is fully causal), and
    positions / segment ids also when unpacked (derived, as seqio does, from non-zero tokens)."""

    MODEL_FEATURES = {k: seqio.FeatureConverter.FeatureSpec(dtype=tf.int32) for k in _ARRAYS}

    def _convert_features(
        self, ds: tf.data.Dataset, task_feature_lengths: Mapping[str, int]
    ) -> tf.data.Dataset:
        ds = super()._convert_features(ds, task_feature_lengths)

        def finish(ex: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
            ex = dict(ex)
            ex.pop("decoder_causal_attention", None)
            if "decoder_segment_ids" not in ex:
                real = tf.cast(tf.not_equal(ex["decoder_target_tokens"], 0), tf.int32)
                ex["decoder_segment_ids"] = real
                ex["decoder_positions"] = (tf.cumsum(real) - 1) * real
                # seqio shifts across the whole row, leaving the EOS in the first pad slot.
                ex["decoder_input_tokens"] = ex["decoder_input_tokens"] * real
            return ex

        return ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE)

    def get_model_feature_lengths(
        self, task_feature_lengths: Mapping[str, int]
    ) -> Mapping[str, int]:
        length = sum(
            v for k, v in task_feature_lengths.items() if k not in self._passthrough_features
        )
        return {k: length for k in _ARRAYS}


def _dataset_fn(split: str, shuffle_files: bool, seed: int | None = None, *, name: str, keys):
    del shuffle_files, seed  # examples are built in memory, in a fixed order
    examples = registry.get_task(name).examples(split)
    return tf.data.Dataset.from_tensor_slices({k: [ex[k] for ex in examples] for k in keys})


def register_seqio_task(name: str, vocabulary: seqio.Vocabulary | None = None) -> seqio.Task:
    """Registers (replacing) the registry task `name` with seqio; EOS is appended to targets."""
    tasks.register_builtin_tasks()
    task = registry.get_task(name)
    vocabulary = vocabulary or vocabularies.get_vocabulary()
    keys = [k for g in task.groups for k in registry.feature_keys(g)]
    features = {
        k: seqio.Feature(vocabulary, add_eos=k.endswith("targets"), dtype=tf.int32) for k in keys
    }
    if name in seqio.TaskRegistry.names():
        seqio.TaskRegistry.remove(name)
    return seqio.TaskRegistry.add(
        name,
        source=seqio.FunctionDataSource(
            functools.partial(_dataset_fn, name=name, keys=keys), splits=task.splits
        ),
        preprocessors=[seqio.preprocessors.tokenize, seqio.preprocessors.append_eos_after_trim],
        output_features=features,
    )


def register_all(vocabulary: seqio.Vocabulary | None = None) -> list[str]:
    """Registers every registry task (the built-in ones included) with seqio; returns the names."""
    names = tasks.register_builtin_tasks()
    for name in names:
        register_seqio_task(name, vocabulary)
    return names
