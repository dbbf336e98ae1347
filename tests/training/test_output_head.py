"""Losses from hidden states (output_head.HeadModel) equal today's losses from full logits: the same
values and gradients for every objective, with chunks that do not divide the length and a softcap."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from train_fakes import LABEL_IDS, TINY, make_rows

from mathft_jax.models import transformer
from mathft_jax.training import losses, objectives, output_head

CFG_TIED = dataclasses.replace(TINY, tie_embeddings=True, final_logit_softcap=5.0)


def full_logits_fn(cfg):
    def fn(params, tokens, positions, segment_ids):
        return transformer.Decoder(cfg).apply({"params": params}, tokens, positions, segment_ids)[0]

    return fn


def test_chunked_token_log_probs_match_full_logits_values_and_grads():
    rng = np.random.default_rng(0)
    hidden = jnp.asarray(rng.normal(size=(3, 13, 8)), jnp.float32)
    head = jnp.asarray(rng.normal(size=(8, 50)), jnp.float32)
    targets = jnp.asarray(rng.integers(0, 50, size=(3, 13)), jnp.int32)
    w = jnp.asarray(rng.random((3, 13)) > 0.3, jnp.float32)

    def full(h, m):
        return jnp.sum(losses.token_log_probs(losses.logits_from_hidden(h, m, 4.0), targets) * w)

    def chunked(h, m):
        return jnp.sum(losses.chunked_token_log_probs(h, m, targets, 4.0, chunk=5) * w)

    np.testing.assert_allclose(chunked(hidden, head), full(hidden, head), rtol=1e-6)
    g_full = jax.grad(full, argnums=(0, 1))(hidden, head)
    g_chunk = jax.grad(chunked, argnums=(0, 1))(hidden, head)
    for a, b in zip(g_chunk, g_full, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _pair_batch(rng, rows=4):
    return {g: make_rows(rng, rows, 5, 7) for g in ("pos", "neg", "gen")}


@pytest.mark.parametrize("cfg", [TINY, CFG_TIED], ids=["untied", "tied_softcap"])
@pytest.mark.parametrize(
    "kind", ["mle", "verifier_xent", "contrastive", "joint_xent", "verifier_margin"]
)
def test_head_model_loss_and_grads_equal_full_logits(cfg, kind):
    rng = np.random.default_rng(1)
    params = transformer.init_params(cfg, jax.random.key(0))
    obj = objectives.Objective(kind, 0.5, 0.3, LABEL_IDS)
    batch = _pair_batch(rng) if obj.is_pair else make_rows(rng, 4, 5, 7)
    batch = jax.tree.map(jnp.asarray, batch)
    head_model = output_head.decoder_model(cfg, chunk=5)  # 12 positions: a ragged last chunk

    def loss(fn):
        return lambda p: objectives.compute_loss(obj, fn, p, batch)[0]

    want, g_want = jax.value_and_grad(loss(full_logits_fn(cfg)))(params)
    got, g_got = jax.value_and_grad(loss(head_model))(params)
    assert float(got) == pytest.approx(float(want), rel=1e-5)
    assert float(want) > 0
    for a, b in zip(jax.tree.leaves(g_got), jax.tree.leaves(g_want), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6)
    # The head model's own logits are the Decoder's.
    tokens = batch["pos" if obj.is_pair else "decoder_input_tokens"]
    if obj.is_pair:
        tokens = tokens["decoder_input_tokens"]
    pos = jnp.broadcast_to(jnp.arange(tokens.shape[1]), tokens.shape)
    np.testing.assert_allclose(
        head_model(params, tokens, pos, None),
        full_logits_fn(cfg)(params, tokens, pos, None),
        rtol=1e-5,
        atol=1e-5,
    )
