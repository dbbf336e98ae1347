"""Validation hooks for the trainer, the measures stages choose their checkpoint by.

- `greedy_pass_at_1_hook` (generators): greedy Pass@1 on a seeded sample of validation problems
  stratified by MATH subject (`stratified_sample`): the first 100 validation problems are 76%
  algebra, so a slice would choose for algebra.
- `verifier_ranking_hook` (verifiers): within-problem AUC on a validation pool: for each problem
  with correct and incorrect samples, the chance that a random correct one outscores a random
  incorrect one (ties half). SCR and re-ranking use the score only to order the samples of one
  problem, so this is what they depend on; plain accuracy on verifier rows rewards the majority
  label ("incorrect") and a problem's difficulty instead.
"""

import logging
import random
from collections.abc import Callable, Sequence
from typing import Any

import gin

from mathft_jax.evaluation import metrics
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
    sample: str = "stratified",
    seed: int = 0,
    batch_size: int = 8,
    max_prompt_len: int = 256,
    max_decode_len: int = 256,
    mesh: Any = None,
) -> Callable[[Any, int], dict[str, float]]:
    """Returns `hook(params, step) -> {"greedy_pass_at_1": float}`.

    Decodes `num_problems` problems of `split` (`sample="stratified"`: a seeded sample stratified by
    subject, `stratified_sample`; "first": the first ones; None: all) greedily with the SSFT
    prompt and grades
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
    from mathft_jax.grading import extract_answer, is_equiv

    if problems is None:
        from mathft_jax.data.problems import load_problems

        problems = load_problems(source, split)
    if sample == "stratified":
        problems = stratified_sample(list(problems), num_problems, seed)
    elif sample == "first":
        problems = list(problems)[:num_problems]
    else:
        raise ValueError(
            f'greedy_pass_at_1_hook.sample must be "stratified" or "first", got {sample!r}'
        )
    if not problems:
        raise ValueError(f"greedy_pass_at_1_hook: no problems in {source}/{split} (gin)")
    if model is None:
        from mathft_jax.models.config import ModelConfig

        model = decoding.decoder_fns(model_config if model_config is not None else ModelConfig())
    if vocab is None:
        from mathft_jax.inference.runtime import vocabulary

        vocab = vocabulary()
    if prompt_fn is None:
        from mathft_jax.data.prompts import ssft_prompt as prompt_fn
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


def subject_of(unique_id: str) -> str:
    """The MATH subject in a unique_id like "train/algebra/12.json"; "" for other ids."""
    parts = unique_id.split("/")
    return parts[-2] if len(parts) >= 3 else ""


def stratified_sample(items: Sequence[Any], n: int | None, seed: int = 0) -> list[Any]:
    """`n` of `items` (objects with `unique_id`), seeded, each subject given its share of `n`
    (largest remainders), items kept in their original order; all of them when n is None or >= len.
    """
    items = list(items)
    if n is None or n >= len(items):
        return items
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(subject_of(item.unique_id), []).append(i)
    exact = {s: n * len(ix) / len(items) for s, ix in groups.items()}
    take = {s: int(v) for s, v in exact.items()}
    by_remainder = sorted(groups, key=lambda s: (-(exact[s] - take[s]), s))
    for s in by_remainder[: n - sum(take.values())]:
        take[s] += 1
    rng = random.Random(f"stratified-{seed}")
    chosen = [i for s in sorted(groups) for i in rng.sample(groups[s], take[s])]
    return [items[i] for i in sorted(chosen)]


def within_problem_auc(scores: Sequence[tuple[Sequence[float], Sequence[float]]]) -> float:
    """Mean over problems of P(score of a correct sample > score of an incorrect one), ties 1/2
    (`evaluation.metrics.within_auc` per problem, the same measure evaluate reports).

    `scores`: per problem, (scores of its correct samples, scores of its incorrect samples);
    problems lacking either label are skipped. NaN when none has both.
    """
    aucs = []
    for good, bad in scores:
        auc = metrics.within_auc([*good, *bad], [True] * len(good) + [False] * len(bad))
        if auc is not None:
            aucs.append(auc)
    return sum(aucs) / len(aucs) if aucs else float("nan")


@gin.configurable
def verifier_ranking_hook(
    labelled: Sequence[Any] | None = None,
    *,
    candidates_path: str | None = None,
    validation_percent: int = 5,
    model: decoding.ModelFns | None = None,
    model_config: Any = None,
    vocab: Any = None,
    max_problems: int | None = 64,
    max_per_label: int = 4,
    batch_size: int = 16,
    max_len: int = 512,
    seed: int = 0,
    mesh: Any = None,
) -> Callable[[Any, int], dict[str, float]]:
    """Returns `hook(params, step) -> {"within_problem_auc": float}` (see the module docstring).

    Args:
      labelled: objects with `unique_id`, `problem`, `correct`, `incorrect` (sample texts), e.g.
        `data.verifier_data.LabelledSolutions`; default: the validation problems of the pool at
        `candidates_path` (the verifier task's own split: `validation_percent`, hash of unique_id).
      max_problems: problems with both labels kept (seeded, stratified by subject).
      max_per_label: samples of each label scored per problem (seeded).
      max_len: verifier prompt tokens (left-truncated like the score job's rows).
    """
    from mathft_jax.data import prompts
    from mathft_jax.inference import scoring

    if labelled is None:
        if candidates_path is None:
            raise ValueError("verifier_ranking_hook needs labelled or candidates_path (gin)")
        from mathft_jax.data import math_tasks

        labelled = [
            g
            for g in math_tasks.labelled_candidates(candidates_path)
            if math_tasks.pool_split(g.unique_id, validation_percent) == "validation"
        ]
    both = [g for g in labelled if g.correct and g.incorrect]
    both = stratified_sample(both, max_problems, seed)
    if not both:  # AUC is undefined: report chance, so ties pick the later step
        logging.getLogger(__name__).warning(
            "verifier_ranking_hook: no validation problem has both correct and incorrect "
            "samples; within_problem_auc is reported as 0.5 (chance)"
        )
        return lambda params, step: {"within_problem_auc": 0.5}
    rng = random.Random(f"verifier-ranking-{seed}")
    rows, owners = [], []
    for k, g in enumerate(both):
        for label, texts in ((1, g.correct), (0, g.incorrect)):
            picked = (
                list(texts)
                if len(texts) <= max_per_label
                else rng.sample(list(texts), max_per_label)
            )
            rows += [(g.problem, t) for t in picked]
            owners += [(k, label)] * len(picked)
    if model is None:
        from mathft_jax.models.config import ModelConfig

        model = decoding.decoder_fns(model_config if model_config is not None else ModelConfig())
    if vocab is None:
        from mathft_jax.inference.runtime import vocabulary

        vocab = vocabulary()
    words = prompts.verifier_words()

    def hook(params: Any, step: int) -> dict[str, float]:
        del step
        placed = multihost.place_params(params, mesh)
        scores: list[float] = []
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            chunk = chunk + [chunk[-1]] * (batch_size - len(chunk))  # one compiled shape
            out = scoring.score_texts(
                placed, chunk, model=model, vocab=vocab, prompt_fn=prompts.verifier_prompt,
                max_len=max_len, correct_word=words[0], incorrect_word=words[1],
            )  # fmt: skip
            scores += [float(x) for x in out[: min(batch_size, len(rows) - start)]]
        per_problem: list[tuple[list[float], list[float]]] = [([], []) for _ in both]
        for (k, label), score in zip(owners, scores):
            per_problem[k][0 if label else 1].append(score)
        return {"within_problem_auc": within_problem_auc(per_problem)}

    return hook
