"""Sampling defaults and filters, checked against values computed by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mathft_jax.inference.sampling import (
    NEG_INF,
    SamplingConfig,
    argmax,
    inverse_cdf_sample,
    nucleus_sample,
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


def test_top_p_filter_matches_a_sort_based_reference():
    logits = jax.random.normal(jax.random.PRNGKey(3), (16, 1000)) * 3
    for top_p in (0.3, 0.9, 0.95):
        probs = np.asarray(jax.nn.softmax(logits, -1), np.float64)
        order = np.argsort(-probs, axis=-1)
        sorted_p = np.take_along_axis(probs, order, -1)
        n_keep = np.sum(np.cumsum(sorted_p, -1) - sorted_p < top_p, -1)
        kept = np.asarray(top_p_filter(logits, top_p)) > NEG_INF / 2
        np.testing.assert_array_equal(kept.sum(-1), n_keep)
        for row in range(16):
            assert set(np.flatnonzero(kept[row])) == set(order[row, : n_keep[row]])


def test_inverse_cdf_sample_frequencies_across_blocks():
    weights = np.zeros((1, 300), np.float32)
    weights[0, [5, 130, 131, 299]] = [0.1, 0.2, 0.3, 0.4]  # three blocks of 128, one partial
    n = 20000
    u = jax.random.uniform(jax.random.PRNGKey(4), (n,))
    tokens = np.asarray(inverse_cdf_sample(jnp.tile(jnp.asarray(weights), (n, 1)), u))
    counts = np.bincount(tokens, minlength=300) / n
    assert set(np.flatnonzero(counts)) == {5, 130, 131, 299}
    np.testing.assert_allclose(counts[[5, 130, 131, 299]], [0.1, 0.2, 0.3, 0.4], atol=0.015)
    edge = inverse_cdf_sample(jnp.asarray(weights), jnp.asarray([0.0]))
    assert int(edge[0]) == 5


def test_argmax_matches_jnp_argmax_with_ties():
    x = jnp.asarray([[1.0, 3.0, 3.0, 0.0], [NEG_INF, NEG_INF, -5.0, -5.0], [2.0, 1.0, 0.0, 2.0]])
    assert argmax(x).tolist() == jnp.argmax(x, -1).tolist() == [1, 2, 0]


def _nucleus_reference(probs: np.ndarray, top_p: float) -> np.ndarray:
    """The renormalised nucleus by sorting (float64), ties with the last kept token kept."""
    order = np.argsort(-probs, kind="stable")
    mass_before = np.cumsum(probs[order]) - probs[order]
    kept = np.zeros_like(probs, bool)
    kept[order[mass_before < top_p]] = True
    kept |= probs >= probs[kept].min()  # ties
    out = np.where(kept, probs, 0.0)
    return out / out.sum()


@pytest.mark.parametrize("candidates", [1, 4])
def test_nucleus_sample_frequencies_are_the_renormalised_nucleus(candidates):
    # With top_p 0.3 a draw lies outside the nucleus 35% of the time, so with one candidate the
    # exact fallback serves about a third of the rows: both paths must give the same law.
    probs = np.asarray([0.25, 0.2, 0.2, 0.15, 0.1, 0.1], np.float32)
    n = 20000
    keys = jax.random.split(jax.random.PRNGKey(5), n)
    tokens = nucleus_sample(jnp.tile(jnp.asarray(probs), (n, 1)), 0.3, keys, candidates)
    counts = np.bincount(np.asarray(tokens), minlength=6) / n
    np.testing.assert_allclose(counts, _nucleus_reference(probs, 0.3), atol=0.015)


def test_nucleus_sample_matches_the_reference_on_a_large_vocabulary():
    logits = jax.random.normal(jax.random.PRNGKey(6), (5000,)) * 2.5
    probs = np.asarray(jax.nn.softmax(logits))
    n = 20000
    keys = jax.random.split(jax.random.PRNGKey(7), n)
    tokens = np.asarray(nucleus_sample(jnp.tile(jnp.asarray(probs), (n, 1)), 0.95, keys))
    want = _nucleus_reference(probs.astype(np.float64), 0.95)
    assert set(np.unique(tokens)) <= set(np.flatnonzero(want))  # never outside the nucleus
    top = np.argsort(-want)[:5]
    counts = np.bincount(tokens, minlength=5000) / n
    np.testing.assert_allclose(counts[top], want[top], atol=0.01)


def test_a_rows_nucleus_sample_ignores_its_neighbours():
    # Row 0 (nucleus {0, 1}) alone, then beside 255 rows that reject 30% of their draws, which
    # makes the batch take the exact fallback.
    row = jnp.asarray([0.4, 0.3, 0.2, 0.1], jnp.float32)
    others = jnp.tile(jnp.asarray([0.7, 0.1, 0.1, 0.1], jnp.float32), (255, 1))
    sample = jax.jit(nucleus_sample, static_argnums=(1, 3))
    seen = set()
    for seed in range(20):
        keys = jax.random.split(jax.random.PRNGKey(seed), 256)
        alone = int(sample(row[None], 0.5, keys[:1], 1)[0])
        batched = sample(jnp.concatenate([row[None], others]), 0.5, keys, 1)
        assert alone == int(batched[0]), f"seed {seed}"
        seen.add(alone)
    assert seen == {0, 1}
