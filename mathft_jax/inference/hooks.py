"""Validation hook for the trainer: greedy Pass@1 on (a slice of) a validation split."""

from collections.abc import Callable, Sequence
from typing import Any

import gin

from mathft_jax.inference import decoding, generation
from mathft_jax.inference.prompting import PromptFn
from mathft_jax.inference.sampling import SamplingConfig
from mathft_jax.runtime import multihost


@gin.configurable
def greedy_pass_at_1_hook(
    problems: Sequence[Any] | None = None,
    *,
    model: decoding.ModelFns | None = None,
    model_config: Any = None,
    vocab: Any = None,
    prompt_fn: PromptFn | None = None,
    source: str = "math",
    split: str = "validation",
    num_problems: int | None = 64,
    batch_size: int = 8,
    max_prompt_len: int = 256,
    max_decode_len: int = 256,
    mesh: Any = None,
) -> Callable[[Any, int], dict[str, float]]:
    """Returns `hook(params, step) -> {"greedy_pass_at_1": float}`.

    Decodes the first `num_problems` problems of `split` greedily with the SSFT prompt and grades
    each greedy answer against the ground truth with `is_equiv`. In a multi-host job every process
    calls the hook (the trainer does) and gets the same value: the decoded tokens are gathered to
    every process (`runtime.multihost.to_host`), whether `mesh` shards the batch or (None) the
    prompts are replicated next to params sharded over the trainer's mesh.

    Args:
      problems: objects with `problem` and `answer`; default `load_problems(source, split)`.
      model: the model calls; default `decoder_fns(model_config or ModelConfig())`.
      vocab: a seqio vocabulary; default the gin-bound `runtime.vocabulary()`.
      prompt_fn: default `mathft_jax.data.prompts.ssft_prompt`.
    """
    from mathft_jax.grading import extract_answer, is_equiv  # noqa: PLC0415

    if problems is None:
        from mathft_jax.data.problems import load_problems  # noqa: PLC0415

        problems = load_problems(source, split)
    problems = list(problems)[:num_problems]
    if not problems:
        raise ValueError(f"greedy_pass_at_1_hook: no problems in {source}/{split} (gin)")
    if model is None:
        from mathft_jax.models.config import ModelConfig  # noqa: PLC0415

        model = decoding.decoder_fns(model_config if model_config is not None else ModelConfig())
    if vocab is None:
        from mathft_jax.inference.runtime import vocabulary  # noqa: PLC0415

        vocab = vocabulary()
    if prompt_fn is None:
        from mathft_jax.data.prompts import ssft_prompt as prompt_fn  # noqa: PLC0415
    prompts = [prompt_fn(p.problem) for p in problems]
    config = decoding.DecodeConfig(
        num_samples=0,
        max_decode_len=max_decode_len,
        sampling=SamplingConfig(temperature=0.0),
        include_greedy=True,
        batch_size=batch_size,
        max_prompt_len=max_prompt_len,
        seed=0,
    )
    answers = [p.answer for p in problems]

    def hook(params: Any, step: int) -> dict[str, float]:
        del step  # greedy decoding is deterministic; the step only labels the result
        texts = generation.generate(
            multihost.place_params(params, mesh),
            prompts,
            range(len(prompts)),
            model=model,
            vocab=vocab,
            config=config,
            mesh=mesh,
        )
        correct = 0
        for answer, (greedy,) in zip(answers, texts):
            predicted = extract_answer(greedy)
            correct += predicted is not None and is_equiv(answer, predicted)
        return {"greedy_pass_at_1": correct / len(answers)}

    return hook
