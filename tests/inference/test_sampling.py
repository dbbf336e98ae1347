"""Sampling defaults and filters, checked against values computed by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mathft_jax.inference.sampling import (
    NEG_INF,
    SamplingConfig,
    sample_tokens,
    top_k_filter,
    top_p_filter,
)

PROBS = np.array([0.5, 0.3, 0.15, 0.05])


def test_defaults_are_the_papers():
    config = SamplingConfig()
    assert config.temperature == 0.6
    assert config.top_p == 0.95
    assert config.top_k is None  # T5X's topk=1 default would make sampling greedy


@pytest.mark.parametrize(
    "top_p, kept",
    [(0.5, [0]), (0.8, [0, 1]), (0.81, [0, 1, 2]), (0.95, [0, 1, 2]), (0.96, [0, 1, 2, 3])],
)
def test_top_p_filter_by_hand(top_p, kept):
    # Mass before each token (sorted): 0, 0.5, 0.8, 0.95; a token is kept when that is < top_p.
    logits = jnp.log(jnp.asarray(PROBS[[2, 0, 3, 1]]))  # shuffled, so sorting matters
    filtered = np.asarray(top_p_filter(logits, top_p))
    kept_shuffled = sorted([2, 0, 3, 1].index(i) for i in kept)
    assert sorted(np.flatnonzero(filtered > NEG_INF / 2).tolist()) == kept_shuffled


def test_top_p_one_is_identity_and_top_k_keeps_k():
    logits = jnp.log(jnp.asarray(PROBS))
    np.testing.assert_array_equal(top_p_filter(logits, 1.0), logits)
    assert np.flatnonzero(np.asarray(top_k_filter(logits, 2)) > NEG_INF / 2).tolist() == [0, 1]


def test_sampled_frequencies_follow_renormalised_nucleus():
    n = 4000
    logits = jnp.tile(jnp.log(jnp.asarray(PROBS)), (n, 1))
    keys = jax.random.split(jax.random.PRNGKey(0), n)
    tokens = np.asarray(sample_tokens(keys, logits, SamplingConfig(temperature=1.0, top_p=0.8)))
    counts = np.bincount(tokens, minlength=4) / n
    assert counts[2] == counts[3] == 0
    assert abs(counts[0] - 0.5 / 0.8) < 0.03


def test_default_config_samples_rather_than_argmax():
    n = 2000
    logits = jnp.tile(jnp.log(jnp.asarray(PROBS)), (n, 1))
    keys = jax.random.split(jax.random.PRNGKey(1), n)
    tokens = np.asarray(sample_tokens(keys, logits, SamplingConfig()))
    # T=0.6 sharpens to about [0.67, 0.28, 0.09, 0.01]; top-p 0.95 keeps the first three.
    assert set(tokens.tolist()) == {0, 1, 2}


def test_greedy_rows_and_zero_temperature_take_argmax():
    logits = jnp.log(jnp.asarray([PROBS, PROBS[::-1]]))
    keys = jax.random.split(jax.random.PRNGKey(2), 2)
    greedy = sample_tokens(keys, logits, SamplingConfig(temperature=0.0))
    assert greedy.tolist() == [0, 3]
    for seed in range(20):
        keys = jax.random.split(jax.random.PRNGKey(seed), 2)
        mixed = sample_tokens(keys, logits, SamplingConfig(), greedy=jnp.array([True, False]))
        assert int(mixed[0]) == 0


@pytest.mark.parametrize(
    "kwargs", [{"temperature": -1.0}, {"top_p": 0.0}, {"top_p": 1.5}, {"top_k": 0}]
)
def test_bad_config_is_rejected(kwargs):
    with pytest.raises(ValueError, match="SamplingConfig"):
        SamplingConfig(**kwargs)
