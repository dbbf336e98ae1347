"""Verifier training data from graded samples: classification examples, balanced (correct,
incorrect) pairs for the margin loss (Eq. 8-9, 12-13), and generator-form contrastive pairs
(Eq. 10-11). Works on any source of labelled samples: candidate pools, PRM800K, the synthetic task.

No TensorFlow or JAX import. Text in, text out; the pipeline tokenizes.
"""

import dataclasses
import random

from mathft_jax.data import prompts


@dataclasses.dataclass(frozen=True)
class LabelledSolutions:
    """One problem with its distinct sampled solutions, split by correctness label, and its
    reference solution (the dataset's: MATH's human-written one, the synthetic task's own), the X of
    Eq. 3 that the L_mle term of Eq. 11 and Eq. 13 is taken on. None where it is unknown: then pair
    examples (which carry it) cannot be built from the problem.

    (Not `evaluation.grade.LabelledSolutions`, which is one problem's clustered answers for metrics.)
    """

    unique_id: str
    problem: str
    correct: tuple[str, ...]
    incorrect: tuple[str, ...]
    reference: str | None = None


def _pick(items: tuple[str, ...], cap: int | None, rng: random.Random) -> list[str]:
    items = list(items)
    rng.shuffle(items)
    return items if cap is None else items[:cap]


def xent_examples(
    graded: list[LabelledSolutions],
    words: tuple[str, str] = (prompts.DEFAULT_CORRECT_WORD, prompts.DEFAULT_INCORRECT_WORD),
    max_per_problem: int | None = 8,
    seed: int = 0,
    balance: bool = False,
) -> list[dict[str, str]]:
    """Verifier classification examples; at most `max_per_problem` of each label per problem.

    `balance=True` keeps only problems with both labels and gives each label the same count per
    problem, min(larger label's count, `max_per_problem`), the scarcer label's solutions repeated
    (the classification form of the margin loss's pairs): the classes are balanced and every
    example teaches the within-problem ranking that re-ranking needs, not the problem's difficulty.
    """
    out = []
    for g in graded:
        rng = random.Random(f"xent-{seed}-{g.unique_id}")
        if balance:
            if not g.correct or not g.incorrect:
                continue
            count = max(len(g.correct), len(g.incorrect))
            if max_per_problem is not None:
                count = min(count, max_per_problem)
        for label, texts in ((words[0], g.correct), (words[1], g.incorrect)):
            picked = _pick(texts, max_per_problem, rng)
            if balance:
                picked = [picked[i % len(picked)] for i in range(count)]
            for text in picked:
                out.append({"inputs": prompts.verifier_prompt(g.problem, text), "targets": label})
    return out


def _pairs(g: LabelledSolutions, cap: int | None, seed: int) -> list[tuple[str, str]]:
    """Balanced pairs: every sampled solution of the scarcer label is used once where possible."""
    if not g.correct or not g.incorrect:
        return []
    rng = random.Random(f"pairs-{seed}-{g.unique_id}")
    pos, neg = _pick(g.correct, None, rng), _pick(g.incorrect, None, rng)
    count = max(len(pos), len(neg))
    if cap is not None:
        count = min(count, cap)
    return [(pos[i % len(pos)], neg[i % len(neg)]) for i in range(count)]


def _reference(g: LabelledSolutions) -> str:
    if g.reference is None:
        raise ValueError(
            f"problem {g.unique_id!r} has no reference solution: pair examples carry it in their "
            "`gen` group (L_mle of Eq. 11 / 13 is Eq. 3 on the problem's reference solution)"
        )
    return g.reference


def verifier_pair_examples(
    graded: list[LabelledSolutions], max_pairs_per_problem: int | None = 4, seed: int = 0
) -> list[dict[str, str]]:
    """Verifier-form (correct, incorrect) pairs of one problem, plus `gen_*` (SSFT prompt -> the
    problem's reference solution: L_mle of Eq. 13 is Eq. 3 on it, not on a sampled solution) for
    the joint loss. Both targets are the correct word: the margin loss compares the two
    candidates' scores S_cls of that word."""
    words = prompts.verifier_words()
    out = []
    for g in graded:
        pairs = _pairs(g, max_pairs_per_problem, seed)
        reference = _reference(g) if pairs else ""
        for good, bad in pairs:
            out.append(
                {
                    "pos_inputs": prompts.verifier_prompt(g.problem, good),
                    "pos_targets": words[0],
                    "neg_inputs": prompts.verifier_prompt(g.problem, bad),
                    "neg_targets": words[0],
                    "gen_inputs": prompts.ssft_prompt(g.problem),
                    "gen_targets": reference,
                }
            )
    return out


def contrastive_pair_examples(
    graded: list[LabelledSolutions], max_pairs_per_problem: int | None = 4, seed: int = 0
) -> list[dict[str, str]]:
    """Generator-form pairs: SSFT prompt -> a correct (pos) / an incorrect (neg) sampled solution,
    plus `gen_*` (SSFT prompt -> the problem's reference solution) for L_mle of Eq. 11."""
    out = []
    for g in graded:
        pairs = _pairs(g, max_pairs_per_problem, seed)
        reference = _reference(g) if pairs else ""
        prompt = prompts.ssft_prompt(g.problem)
        for good, bad in pairs:
            out.append(
                {
                    "pos_inputs": prompt,
                    "pos_targets": good,
                    "neg_inputs": prompt,
                    "neg_targets": bad,
                    "gen_inputs": prompt,
                    "gen_targets": reference,
                }
            )
    return out
