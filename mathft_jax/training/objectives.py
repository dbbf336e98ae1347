"""The stage objectives: which loss of `losses.py` a stage trains, computed from a model and a batch.

Kinds (gin `Objective.kind`): "mle" (SSFT, Eq. 3), "verifier_xent" (Eq. 9), "verifier_margin"
(Eq. 8), "contrastive" (Eq. 10-11), "joint_xent" / "joint_margin" (Eq. 12-13). Single-group kinds
take a flat batch; pair kinds take {"pos", "neg"[, "gen"]} (verifier pairs carry the verifier prompt
in pos/neg and the SSFT example in gen; contrastive pairs carry SSFT prompt -> right/wrong solution).

    python -m pytest -q tests/training/test_train_step.py
"""

import dataclasses
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


def _scores(obj: Objective, logits_fn: LogitsFn, params: Any, group: dict[str, jax.Array]):
    if obj.label_ids is None:
        raise ValueError(f"Objective.kind={obj.kind!r} needs label_ids (verifier words)")
    if hasattr(logits_fn, "label_logits"):  # output_head.HeadModel: two head columns, no vocab
        return losses.verifier_log_scores(
            logits_fn.label_logits(params, group, obj.label_ids), 0, 1
        )
    logits = _logits(logits_fn, params, group)
    label_logits = losses.label_position_logits(logits, group["decoder_loss_weights"])
    return losses.verifier_log_scores(label_logits, *obj.label_ids)


def _token_log_probs(logits_fn: LogitsFn, params: Any, group: dict[str, jax.Array]) -> jax.Array:
    """f32 [batch, length]; a `HeadModel` computes them over sequence chunks (no full logits)."""
    if hasattr(logits_fn, "token_log_probs"):
        return logits_fn.token_log_probs(params, group)
    return losses.token_log_probs(_logits(logits_fn, params, group), group["decoder_target_tokens"])


def _seq_log_probs(tlp: jax.Array, group: dict[str, jax.Array]) -> jax.Array:
    return jnp.sum(tlp * group["decoder_loss_weights"], axis=-1)


def compute_loss(
    obj: Objective, logits_fn: LogitsFn, params: Any, batch: dict
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """(scalar training loss, metrics) of one batch; metrics are means over valid rows/tokens."""
    if obj.kind in ("mle", "verifier_xent"):
        if "pos" in batch:
            raise ValueError(f"Objective.kind={obj.kind!r} got a pair batch; check the task name")
        w = batch["decoder_loss_weights"]
        if obj.kind == "mle":
            tlp = _token_log_probs(logits_fn, params, batch)
            loss, ntok = losses.mle_from_token_log_probs(tlp, w)
            return loss, {"loss": loss, "mle": loss, "target_tokens": ntok}
        log_s, log_1ms = _scores(obj, logits_fn, params, batch)
        labels = (
            losses.label_position_targets(batch["decoder_target_tokens"], w) == obj.label_ids[0]
        )
        mask = losses.row_mask(w)
        loss = losses.masked_mean(losses.verifier_xent_loss(log_s, log_1ms, labels), mask)
        acc = losses.masked_mean(((log_s > log_1ms) == labels).astype(jnp.float32), mask)
        return loss, {"loss": loss, "accuracy": acc, "examples": jnp.sum(mask)}

    if "pos" not in batch:
        raise ValueError(f"Objective.kind={obj.kind!r} needs a pair batch; check the task name")
    pos, neg = batch["pos"], batch["neg"]
    mask = losses.row_mask(pos["decoder_loss_weights"]) * losses.row_mask(
        neg["decoder_loss_weights"]
    )
    metrics: dict[str, jax.Array] = {"examples": jnp.sum(mask)}
    if obj.kind == "contrastive":
        pos_tlp = _token_log_probs(logits_fn, params, pos)
        lp = _seq_log_probs(pos_tlp, pos)
        ln = _seq_log_probs(_token_log_probs(logits_fn, params, neg), neg)
        mle, _ = losses.mle_from_token_log_probs(pos_tlp, pos["decoder_loss_weights"])
        loss = losses.contrastive_loss(lp, ln, mle, obj.margin, obj.alpha, mask)
        metrics["pair_accuracy"] = losses.masked_mean((lp > ln).astype(jnp.float32), mask)
        metrics.update(loss=loss, mle=mle)
        return loss, metrics

    ps, p1ms = _scores(obj, logits_fn, params, pos)
    ns, n1ms = _scores(obj, logits_fn, params, neg)
    if obj.kind.endswith("xent"):
        cls = (
            losses.masked_mean(
                losses.verifier_xent_loss(ps, p1ms, jnp.ones_like(ps))
                + losses.verifier_xent_loss(ns, n1ms, jnp.zeros_like(ns)),
                mask,
            )
            / 2.0
        )
    else:
        cls = losses.masked_mean(losses.margin_loss(ps, ns, obj.margin), mask)
    loss = cls
    if obj.kind.startswith("joint"):
        if "gen" not in batch:
            raise ValueError(f"Objective.kind={obj.kind!r} needs a 'gen' group in the batch")
        gen = batch["gen"]
        mle, _ = losses.mle_from_token_log_probs(
            _token_log_probs(logits_fn, params, gen), gen["decoder_loss_weights"]
        )
        loss = losses.joint_loss(cls, mle, obj.alpha)
        metrics["mle"] = mle
    acc = ((ps > p1ms).astype(jnp.float32) + (ns < n1ms).astype(jnp.float32)) / 2.0
    metrics.update(
        loss=loss,
        cls_loss=cls,
        accuracy=losses.masked_mean(acc, mask),
        pair_accuracy=losses.masked_mean((ps > ns).astype(jnp.float32), mask),
    )
    return loss, metrics
