"""Losses against values computed by hand (Eq. 3, 8, 9, 10-13)."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from mathft_jax.training import losses

# One row, 3 positions, vocab 2. log_softmax([0, ln 3]) = (ln 1/4, ln 3/4).
LN3 = math.log(3.0)
LOGITS = jnp.asarray([[[0.0, LN3], [LN3, 0.0], [0.0, 0.0]]])
TARGETS = jnp.asarray([[1, 1, 0]])
WEIGHTS = jnp.asarray([[0, 1, 1]])


def test_mle_is_per_token_mean_of_target_nll():
    loss, ntok = losses.mle_loss(LOGITS, TARGETS, WEIGHTS)
    # positions 1, 2: -log(1/4) and -log(1/2); position 0 has weight 0.
    expected = (math.log(4.0) + math.log(2.0)) / 2
    assert float(ntok) == 2
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_sequence_log_prob_sums_target_tokens():
    lp = losses.sequence_log_probs(LOGITS, TARGETS, WEIGHTS)
    assert float(lp[0]) == pytest.approx(math.log(0.25) + math.log(0.5), rel=1e-6)


def test_verifier_log_scores_two_way_softmax():
    vocab = jnp.asarray([[5.0, math.log(3.0), 0.0, 7.0]])  # correct id 1, incorrect id 2
    log_s, log_1ms = losses.verifier_log_scores(vocab, 1, 2)
    # S = 3 / (3 + 1); unrelated logits (ids 0, 3) do not matter.
    assert float(log_s[0]) == pytest.approx(math.log(0.75), rel=1e-6)
    assert float(log_1ms[0]) == pytest.approx(math.log(0.25), rel=1e-6)


def test_label_position_is_first_weighted_position():
    logits = jnp.arange(2 * 3 * 2, dtype=jnp.float32).reshape(2, 3, 2)
    weights = jnp.asarray([[0, 0, 1], [0, 1, 1]])
    out = losses.label_position_logits(logits, weights)
    np.testing.assert_array_equal(out, [[4.0, 5.0], [8.0, 9.0]])
    targets = jnp.asarray([[7, 8, 9], [4, 5, 6]])
    np.testing.assert_array_equal(losses.label_position_targets(targets, weights), [9, 5])


def test_verifier_xent_by_hand():
    log_s, log_1ms = jnp.log(jnp.asarray([0.8, 0.3])), jnp.log(jnp.asarray([0.2, 0.7]))
    out = losses.verifier_xent_loss(log_s, log_1ms, jnp.asarray([1, 0]))
    np.testing.assert_allclose(out, [-math.log(0.8), -math.log(0.7)], rtol=1e-6)


def test_margin_hinge_by_hand():
    right, wrong = jnp.asarray([-1.0, -1.0]), jnp.asarray([-3.0, -1.5])
    # max(0, -3 + 1 + 1) = 0 ; max(0, -1.5 + 1 + 1) = 0.5
    np.testing.assert_allclose(losses.margin_loss(right, wrong, 1.0), [0.0, 0.5])


def test_contrastive_and_joint_add_alpha_mle():
    right, wrong = jnp.asarray([-1.0, -1.0]), jnp.asarray([-3.0, -1.5])
    out = losses.contrastive_loss(right, wrong, jnp.asarray(2.0), 1.0, 0.5)
    assert float(out) == pytest.approx((0.0 + 0.5) / 2 + 0.5 * 2.0)
    masked = losses.contrastive_loss(
        right, wrong, jnp.asarray(0.0), 1.0, 0.5, jnp.asarray([0, 1.0])
    )
    assert float(masked) == pytest.approx(0.5)
    assert float(losses.joint_loss(jnp.asarray(1.5), jnp.asarray(2.0), 0.25)) == pytest.approx(2.0)


def test_padding_rows_are_masked():
    w = jnp.asarray([[0, 1], [0, 0]])
    np.testing.assert_array_equal(losses.row_mask(w), [1.0, 0.0])
    assert float(losses.masked_mean(jnp.asarray([2.0, 100.0]), losses.row_mask(w))) == 2.0
