"""The stage objectives: which loss of `losses.py` a stage trains, computed from a model and a batch.

Kinds (gin `Objective.kind`): "mle" (SSFT, Eq. 3), "verifier_xent" (Eq. 9), "verifier_margin"
(Eq. 8), "contrastive" (Eq. 10-11), "joint_xent" / "joint_margin" (Eq. 12-13); one function each,
picked once by `loss_for` from the `LOSSES` table. Single-group kinds
take a flat batch; pair kinds take {"pos", "neg", "gen"} (verifier pairs carry the verifier prompt
in pos/neg, contrastive pairs SSFT prompt -> sampled right/wrong solution; in both, gen is SSFT
prompt -> the problem's reference solution, the X of Eq. 3).

Normalisation, and what it means for α. L_mle (Eq. 3, on the gen group in Eq. 11 and Eq. 13, on
the flat batch in SSFT) is per token: -log p(X|P) summed over the batch's target tokens, divided by
their count. L_seq (Eq. 10) is per sequence: the margin on log p(X|P), each a sum over the
solution's tokens, averaged over pairs. L_cls (Eq. 8, 9) is per example, averaged over pairs
(Eq. 9 on a pair: the mean of its two rows). So α weighs a per-token mean NLL: the per-sequence
form -log p(X|P) of the paper's Eq. 3 is T times larger for a T-token reference, and α here equals
α·T there (α = 1 here is α ≈ 1/T in per-sequence units; T ~ 200-400 for MATH solutions in BPE
tokens). In Eq. 11, L_seq (token sums) dwarfs α·L_mle at α = 1 unless the margin is met.

    python -m pytest -q tests/training/test_train_step.py
"""

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import gin
import jax
import jax.numpy as jnp

from mathft_jax.training import losses

KINDS = ("mle", "verifier_xent", "verifier_margin", "contrastive", "joint_xent", "joint_margin")
PAIR_KINDS = ("verifier_margin", "contrastive", "joint_xent", "joint_margin")
# (params, tokens, positions, segment_ids) -> logits [batch, length, vocab]
LogitsFn = Callable[[Any, jax.Array, jax.Array, jax.Array], jax.Array]
Metrics = dict[str, jax.Array]


@gin.configurable
@dataclasses.dataclass(frozen=True)
class Objective:
    """A stage's loss. `label_ids` = (correct, incorrect) first-token ids, set by the trainer."""

    kind: str = "mle"
    margin: float = 1.0  # λ of Eq. 8 / 10
    alpha: float = 1.0  # α of Eq. 11 / 13 (weight of L_mle)
    label_ids: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Objective.kind={self.kind!r} (gin); expected one of {KINDS}")

    @property
    def is_pair(self) -> bool:
        return self.kind in PAIR_KINDS

    @property
    def needs_labels(self) -> bool:
        return self.kind in ("verifier_xent", "verifier_margin", "joint_xent", "joint_margin")


def _logits(logits_fn: LogitsFn, params: Any, group: dict[str, jax.Array]) -> jax.Array:
    return logits_fn(
        params,
        group["decoder_input_tokens"],
        group["decoder_positions"],
        group["decoder_segment_ids"],
    )


def _scores(obj: Objective, logits: jax.Array, group: dict[str, jax.Array]):
    if obj.label_ids is None:
        raise ValueError(f"Objective.kind={obj.kind!r} needs label_ids (verifier words)")
    label_logits = losses.label_position_logits(logits, group["decoder_loss_weights"])
    return losses.verifier_log_scores(label_logits, *obj.label_ids)


def _single_batch(obj: Objective, batch: dict) -> None:
    if "pos" in batch:
        raise ValueError(f"Objective.kind={obj.kind!r} got a pair batch; check the task name")


def mle(obj: Objective, logits_fn: LogitsFn, params: Any, batch: dict) -> tuple[jax.Array, Metrics]:
    """Eq. 3 (SSFT) on a flat batch: per-token mean of -log p(X|P)."""
    _single_batch(obj, batch)
    logits = _logits(logits_fn, params, batch)
    loss, ntok = losses.mle_loss(
        logits, batch["decoder_target_tokens"], batch["decoder_loss_weights"]
    )
    return loss, {"loss": loss, "mle": loss, "target_tokens": ntok}


def verifier_xent(
    obj: Objective, logits_fn: LogitsFn, params: Any, batch: dict
) -> tuple[jax.Array, Metrics]:
    """Eq. 9 on a flat batch of verifier rows labelled by their first target token."""
    _single_batch(obj, batch)
    logits = _logits(logits_fn, params, batch)
    w = batch["decoder_loss_weights"]
    log_s, log_1ms = _scores(obj, logits, batch)
    labels = losses.label_position_targets(batch["decoder_target_tokens"], w) == obj.label_ids[0]
    mask = losses.row_mask(w)
    loss = losses.masked_mean(losses.verifier_xent_loss(log_s, log_1ms, labels), mask)
    acc = losses.masked_mean(((log_s > log_1ms) == labels).astype(jnp.float32), mask)
    return loss, {"loss": loss, "accuracy": acc, "examples": jnp.sum(mask)}


def _pair(
    obj: Objective, logits_fn: LogitsFn, params: Any, batch: dict
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(pos logits, neg logits, mask of pairs whose both rows hold a target)."""
    if "pos" not in batch:
        raise ValueError(f"Objective.kind={obj.kind!r} needs a pair batch; check the task name")
    pos, neg = batch["pos"], batch["neg"]
    mask = losses.row_mask(pos["decoder_loss_weights"]) * losses.row_mask(
        neg["decoder_loss_weights"]
    )
    return _logits(logits_fn, params, pos), _logits(logits_fn, params, neg), mask


def contrastive(
    obj: Objective, logits_fn: LogitsFn, params: Any, batch: dict
) -> tuple[jax.Array, Metrics]:
    """Eq. 10-11: margin on log p(X|P) (per sequence) of right over wrong sampled solutions, plus
    α·L_mle (per token) on the problem's reference solution (the "gen" group)."""
    pos_logits, neg_logits, mask = _pair(obj, logits_fn, params, batch)
    pos, neg = batch["pos"], batch["neg"]
    lp = losses.sequence_log_probs(
        pos_logits, pos["decoder_target_tokens"], pos["decoder_loss_weights"]
    )
    ln = losses.sequence_log_probs(
        neg_logits, neg["decoder_target_tokens"], neg["decoder_loss_weights"]
    )
    mle_loss = _gen_mle(obj, logits_fn, params, batch)
    loss = losses.contrastive_loss(lp, ln, mle_loss, obj.margin, obj.alpha, mask)
    metrics: Metrics = {"examples": jnp.sum(mask)}
    metrics["pair_accuracy"] = losses.masked_mean((lp > ln).astype(jnp.float32), mask)
    metrics.update(loss=loss, mle=mle_loss)
    return loss, metrics


# (log S, log(1-S)) of the pos rows, then of the neg rows, and the pair mask.
_PairScores = tuple[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array]


def _pair_scores(obj: Objective, logits_fn: LogitsFn, params: Any, batch: dict) -> _PairScores:
    pos_logits, neg_logits, mask = _pair(obj, logits_fn, params, batch)
    ps, p1ms = _scores(obj, pos_logits, batch["pos"])
    ns, n1ms = _scores(obj, neg_logits, batch["neg"])
    return ps, p1ms, ns, n1ms, mask


def _xent_on_pairs(scores: _PairScores) -> jax.Array:
    """Eq. 9 on a pair: the mean of the pos row's (label 1) and the neg row's (label 0) loss."""
    ps, p1ms, ns, n1ms, mask = scores
    both = losses.verifier_xent_loss(ps, p1ms, jnp.ones_like(ps)) + losses.verifier_xent_loss(
        ns, n1ms, jnp.zeros_like(ns)
    )
    return losses.masked_mean(both, mask) / 2.0


def _margin_on_pairs(obj: Objective, scores: _PairScores) -> jax.Array:
    """Eq. 8 on log S: max(0, log S(neg) - log S(pos) + λ), averaged over pairs."""
    ps, _, ns, _, mask = scores
    return losses.masked_mean(losses.margin_loss(ps, ns, obj.margin), mask)


def _gen_mle(obj: Objective, logits_fn: LogitsFn, params: Any, batch: dict) -> jax.Array:
    """L_mle of Eq. 11 / 13 (Eq. 3, per token) on the batch's "gen" group: SSFT prompt -> the
    problem's reference solution."""
    if "gen" not in batch:
        raise ValueError(f"Objective.kind={obj.kind!r} needs a 'gen' group in the batch")
    gen = batch["gen"]
    loss, _ = losses.mle_loss(
        _logits(logits_fn, params, gen), gen["decoder_target_tokens"], gen["decoder_loss_weights"]
    )
    return loss


def _verifier_pair_metrics(
    loss: jax.Array, cls: jax.Array, scores: _PairScores, mle_loss: jax.Array | None = None
) -> Metrics:
    ps, p1ms, ns, n1ms, mask = scores
    metrics: Metrics = {"examples": jnp.sum(mask)}
    if mle_loss is not None:
        metrics["mle"] = mle_loss
    acc = ((ps > p1ms).astype(jnp.float32) + (ns < n1ms).astype(jnp.float32)) / 2.0
    metrics.update(
        loss=loss,
        cls_loss=cls,
        accuracy=losses.masked_mean(acc, mask),
        pair_accuracy=losses.masked_mean((ps > ns).astype(jnp.float32), mask),
    )
    return metrics


def verifier_margin(
    obj: Objective, logits_fn: LogitsFn, params: Any, batch: dict
) -> tuple[jax.Array, Metrics]:
    """Eq. 8 on pairs (right, wrong solution) of one problem."""
    scores = _pair_scores(obj, logits_fn, params, batch)
    cls = _margin_on_pairs(obj, scores)
    return cls, _verifier_pair_metrics(cls, cls, scores)


def joint_xent(
    obj: Objective, logits_fn: LogitsFn, params: Any, batch: dict
) -> tuple[jax.Array, Metrics]:
    """Eq. 12-13 with the Eq. 9 classifier on pairs: L_cls + α·L_mle (on the "gen" group)."""
    scores = _pair_scores(obj, logits_fn, params, batch)
    cls = _xent_on_pairs(scores)
    mle_loss = _gen_mle(obj, logits_fn, params, batch)
    loss = losses.joint_loss(cls, mle_loss, obj.alpha)
    return loss, _verifier_pair_metrics(loss, cls, scores, mle_loss)


def joint_margin(
    obj: Objective, logits_fn: LogitsFn, params: Any, batch: dict
) -> tuple[jax.Array, Metrics]:
    """Eq. 12-13 with the Eq. 8 margin classifier: L_cls + α·L_mle (on the "gen" group)."""
    scores = _pair_scores(obj, logits_fn, params, batch)
    cls = _margin_on_pairs(obj, scores)
    mle_loss = _gen_mle(obj, logits_fn, params, batch)
    loss = losses.joint_loss(cls, mle_loss, obj.alpha)
    return loss, _verifier_pair_metrics(loss, cls, scores, mle_loss)


# (objective, logits_fn, params, batch) -> (scalar training loss, metrics); metrics are means over
# valid rows/tokens plus their count ("target_tokens" or "examples").
LossFn = Callable[[Objective, LogitsFn, Any, dict], tuple[jax.Array, Metrics]]
LOSSES: dict[str, LossFn] = {
    "mle": mle,
    "verifier_xent": verifier_xent,
    "verifier_margin": verifier_margin,
    "contrastive": contrastive,
    "joint_xent": joint_xent,
    "joint_margin": joint_margin,
}
assert set(LOSSES) == set(KINDS)


def loss_for(obj: Objective) -> Callable[[LogitsFn, Any, dict], tuple[jax.Array, Metrics]]:
    """The loss function of `obj.kind`, bound to `obj`: `(logits_fn, params, batch) -> (loss,
    metrics)`. Look it up once (the train and eval steps do), then call it per batch."""
    return functools.partial(LOSSES[obj.kind], obj)


def compute_loss(
    obj: Objective, logits_fn: LogitsFn, params: Any, batch: dict
) -> tuple[jax.Array, Metrics]:
    """(scalar training loss, metrics) of one batch; metrics are means over valid rows/tokens."""
    return LOSSES[obj.kind](obj, logits_fn, params, batch)
