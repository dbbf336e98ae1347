"""Training losses of Liu et al. 2023 (Eq. 3, 8-13) as pure functions of logits and batch arrays.

Conventions: `logits` f32 [batch, length, vocab] from `Decoder`; `targets`, `weights` int32
[batch, length] from the decoder-only feature converter (weights 1 on target tokens, 0 elsewhere).
A row with no target token (the padding rows of a final eval batch) is masked out of every mean.

    python -m pytest -q tests/training/test_training_losses.py
"""

import jax
import jax.numpy as jnp

from mathft_jax.models.transformer import logits_from_hidden  # noqa: F401 (part of this API)


def token_log_probs(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """log p(target_t | prefix) for every position: f32 [batch, length]."""
    log_probs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    return jnp.take_along_axis(log_probs, targets[..., None].astype(jnp.int32), axis=-1)[..., 0]


def sequence_log_probs(logits: jax.Array, targets: jax.Array, weights: jax.Array) -> jax.Array:
    """log p(X|P) = sum of target-token log probs per row (Eq. 3 without the sign): f32 [batch].

    Pair batches are never packed, so a row is one example.
    """
    return jnp.sum(token_log_probs(logits, targets) * weights, axis=-1)


def row_mask(weights: jax.Array) -> jax.Array:
    """f32 [batch]: 1 for rows holding at least one target token."""
    return (jnp.sum(weights, axis=-1) > 0).astype(jnp.float32)


def masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean of `values` over rows where `mask` is 1 (0 when no row is valid)."""
    return jnp.sum(values * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def mle_loss(
    logits: jax.Array, targets: jax.Array, weights: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Eq. 3, -log p(X|P) summed over target tokens, then divided by the number of target tokens.

    Per-token normalisation (not per-sequence) keeps the gradient scale independent of solution
    length and of how many examples a packed row holds. Returns (loss, num_target_tokens).
    """
    w = weights.astype(jnp.float32)
    num_tokens = jnp.sum(w)
    total = -jnp.sum(token_log_probs(logits, targets) * w)
    return total / jnp.maximum(num_tokens, 1.0), num_tokens


def label_position_logits(logits: jax.Array, weights: jax.Array) -> jax.Array:
    """Logits at the position that predicts the first target token: f32 [batch, vocab].

    That is the first position with loss weight > 0 (the input there is the last prompt token).
    Rows without any target fall back to position 0; mask them with `row_mask`.
    """
    first = jnp.argmax(weights > 0, axis=-1)  # [batch]
    return jnp.take_along_axis(logits, first[:, None, None], axis=1)[:, 0, :]


def label_position_targets(targets: jax.Array, weights: jax.Array) -> jax.Array:
    """The first target token of each row: int32 [batch]."""
    first = jnp.argmax(weights > 0, axis=-1)
    return jnp.take_along_axis(targets, first[:, None], axis=1)[:, 0]


def verifier_log_scores(
    label_logits: jax.Array, correct_id: int | jax.Array, incorrect_id: int | jax.Array
) -> tuple[jax.Array, jax.Array]:
    """(log S, log(1 - S)) with S = p(correct) / (p(correct) + p(incorrect)) (paper Sec. 3.2).

    The softmax normaliser cancels, so S is the two-way softmax of the two label logits.
    Multi-token label words are scored by their *first* token only
    (`data.vocabularies.verifier_label_token_ids`); the words must differ in that token.

    Args:
      label_logits: [..., vocab] logits at the position that predicts the label word.
    Returns:
      two f32 arrays of shape [...].
    """
    pair = jnp.stack(
        [label_logits[..., correct_id], label_logits[..., incorrect_id]], axis=-1
    ).astype(jnp.float32)
    log_pair = jax.nn.log_softmax(pair, axis=-1)
    return log_pair[..., 0], log_pair[..., 1]


def verifier_xent_loss(log_s: jax.Array, log_1ms: jax.Array, labels: jax.Array) -> jax.Array:
    """Eq. 9 per row: -[y log S + (1 - y) log(1 - S)], y = 1 for a correct solution."""
    y = labels.astype(jnp.float32)
    return -(y * log_s + (1.0 - y) * log_1ms)


def margin_loss(score_right: jax.Array, score_wrong: jax.Array, margin: float) -> jax.Array:
    """max(0, score(X_wrong) - score(X_right) + λ) per pair.

    Eq. 8 with scores log S (verifier margin), Eq. 10 with scores log p(X|P) (contrastive).
    """
    return jnp.maximum(0.0, score_wrong - score_right + margin)


def contrastive_loss(
    logp_right: jax.Array,
    logp_wrong: jax.Array,
    mle: jax.Array,
    margin: float,
    alpha: float,
    mask: jax.Array | None = None,
) -> jax.Array:
    """Eq. 10-11: mean over pairs of the margin on log p(X|P), plus α·L_mle (a scalar)."""
    mask = jnp.ones_like(logp_right) if mask is None else mask
    return masked_mean(margin_loss(logp_right, logp_wrong, margin), mask) + alpha * mle


def joint_loss(cls_loss: jax.Array, mle: jax.Array, alpha: float) -> jax.Array:
    """Eq. 12-13: L_cls + α·L_mle, L_cls being the verifier xent or margin loss."""
    return cls_loss + alpha * mle


# --- Losses from the final hidden states: no [batch, length, vocab] f32 tensor is materialised. ---


def chunked_token_log_probs(
    hidden: jax.Array,
    head: jax.Array,
    targets: jax.Array,
    softcap: float | None = None,
    chunk: int = 256,
) -> jax.Array:
    """`token_log_probs(logits_from_hidden(hidden, head), targets)` a chunk of positions at a time.

    Each chunk's logits are recomputed in the backward pass (`jax.checkpoint`), so at most one
    `[batch, chunk, vocab]` f32 block (and its gradient) is alive instead of the whole sequence's.
    Same values and gradients up to float summation order. Returns f32 [batch, length].
    """
    batch, length = targets.shape
    chunk = max(1, min(chunk, length))
    pad = -length % chunk
    if pad:
        hidden = jnp.pad(hidden, ((0, 0), (0, pad), (0, 0)))
        targets = jnp.pad(targets, ((0, 0), (0, pad)))
    n = (length + pad) // chunk
    h = hidden.reshape(batch, n, chunk, hidden.shape[-1]).swapaxes(0, 1)  # [n, batch, chunk, e]
    t = targets.reshape(batch, n, chunk).swapaxes(0, 1)

    @jax.checkpoint
    def one(args: tuple[jax.Array, jax.Array]) -> jax.Array:
        h_c, t_c = args
        return token_log_probs(logits_from_hidden(h_c, head, softcap), t_c)

    out = jax.lax.map(one, (h, t))  # [n, batch, chunk]
    return out.swapaxes(0, 1).reshape(batch, n * chunk)[:, :length]


def mle_from_token_log_probs(
    log_probs: jax.Array, weights: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """`mle_loss` from precomputed token log probs [batch, length]: (loss, num_target_tokens)."""
    w = weights.astype(jnp.float32)
    num_tokens = jnp.sum(w)
    return -jnp.sum(log_probs * w) / jnp.maximum(num_tokens, 1.0), num_tokens


def label_position_hidden(hidden: jax.Array, weights: jax.Array) -> jax.Array:
    """Hidden state [batch, embed] at the position that predicts the first target token."""
    first = jnp.argmax(weights > 0, axis=-1)
    return jnp.take_along_axis(hidden, first[:, None, None], axis=1)[:, 0, :]


def label_pair_logits(
    hidden: jax.Array,
    head: jax.Array,
    correct_id: int | jax.Array,
    incorrect_id: int | jax.Array,
    softcap: float | None = None,
) -> jax.Array:
    """f32 [..., 2] logits of the two label tokens only: two columns of the head, not the vocab."""
    cols = jnp.stack([head[:, correct_id], head[:, incorrect_id]], axis=-1)  # [embed, 2]
    return logits_from_hidden(hidden, cols, softcap)
