"""The jitted train step: 8 fake devices (data x fsdp x tensor) match 1 device; packing is exact."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import NamedSharding, PartitionSpec
from train_fakes import TINY, make_rows

from mathft_jax.models import transformer
from mathft_jax.runtime import partitioning
from mathft_jax.training import objectives, optimizers
from mathft_jax.training.train_state import TrainState, make_train_step

RULES = partitioning.DEFAULT_RULES  # embed->fsdp, mlp/heads/vocab->tensor, batch->(data, fsdp)


def logits_fn(params, tokens, positions, segment_ids):
    return transformer.Decoder(TINY).apply({"params": params}, tokens, positions, segment_ids)[0]


def one_step(mesh_shape, params, batch, accum_steps=1, tx=None):
    mesh = partitioning.make_mesh(mesh_shape, devices=jax.devices()[: int(np.prod(mesh_shape))])
    tx = tx or optax.adamw(1e-2)
    abstract = transformer.abstract_params(TINY)
    p_sh = partitioning.param_shardings(abstract, transformer.param_logical_axes(TINY), mesh, RULES)
    o_sh = partitioning.opt_state_shardings(jax.eval_shape(tx.init, abstract), abstract, p_sh, mesh)
    rep = NamedSharding(mesh, PartitionSpec())
    step = make_train_step(objectives.Objective("mle"), logits_fn, tx, lambda s: 1e-2, accum_steps)
    with jax.set_mesh(mesh), nn.logical_axis_rules(RULES):
        params = jax.device_put(jax.tree.map(jnp.copy, params), p_sh)
        state = TrainState(jnp.asarray(0), params, jax.jit(tx.init, out_shardings=o_sh)(params))
        b = partitioning.global_batch(batch, partitioning.batch_sharding(mesh, RULES))
        state_sh = TrainState(rep, p_sh, o_sh)
        new, metrics = jax.jit(step, out_shardings=(state_sh, rep), donate_argnums=0)(state, b)
    return new, metrics, p_sh


def _max_change(new, old) -> float:
    """The largest absolute change of any parameter."""
    leaves = zip(jax.tree.leaves(new), jax.tree.leaves(old), strict=True)
    return max(float(jnp.max(jnp.abs(a - b))) for a, b in leaves)


@pytest.mark.slow
def test_eight_devices_match_one():
    assert len(jax.devices()) >= 8
    params = transformer.init_params(TINY, jax.random.key(0))
    batch = make_rows(np.random.default_rng(0), 8, 4, 12)
    one, m1, _ = one_step((1, 1, 1), params, batch)
    eight, m8, p_sh = one_step((2, 2, 2), params, batch)
    # The 8-device params really are sharded (else the test would prove nothing).
    specs = [s.spec for s in jax.tree.leaves(p_sh)]
    assert any("fsdp" in str(s) for s in specs) and any("tensor" in str(s) for s in specs)
    assert float(m1["loss"]) == pytest.approx(float(m8["loss"]), rel=1e-5)
    for a, b in zip(jax.tree.leaves(one.params), jax.tree.leaves(eight.params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-4, atol=2e-6)
    assert _max_change(one.params, params) > 1e-3  # the step changed the params


@pytest.mark.slow
def test_adafactor_step_sharded_matches_one_device():
    """Adafactor's factored second moments get shardings of their own (rows/columns of a matrix)."""
    tx = optimizers.make_optimizer(lambda s: 1e-2, name="adafactor", clip_norm=1.0)
    params = transformer.init_params(TINY, jax.random.key(2))
    batch = make_rows(np.random.default_rng(2), 8, 4, 12)
    one, m1, _ = one_step((1, 1, 1), params, batch, tx=tx)
    eight, m8, _ = one_step((2, 2, 2), params, batch, tx=tx)
    assert float(m1["loss"]) == pytest.approx(float(m8["loss"]), rel=1e-5)
    for a, b in zip(jax.tree.leaves(one.params), jax.tree.leaves(eight.params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-4, atol=2e-6)
    assert _max_change(one.params, params) > 1e-4


@pytest.mark.slow
def test_gradient_accumulation_matches_full_batch():
    params = transformer.init_params(TINY, jax.random.key(1))
    batch = make_rows(np.random.default_rng(1), 8, 4, 12)  # equal token counts per microbatch
    full, _, _ = one_step((1, 1, 1), params, batch)
    accum, _, _ = one_step((1, 1, 1), params, batch, accum_steps=4)
    # Adam divides by sqrt(v): float noise on near-zero grads shows up at ~1e-5 of a 1e-2 step.
    for a, b in zip(jax.tree.leaves(full.params), jax.tree.leaves(accum.params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=5e-5)


def test_packed_row_equals_separate_examples():
    """Two examples packed in one row (segment ids, restarted positions) give the same token
    losses as each example alone: no attention across the boundary."""
    params = transformer.init_params(TINY, jax.random.key(2))
    a = make_rows(np.random.default_rng(3), 1, 3, 5)
    b = make_rows(np.random.default_rng(4), 1, 2, 6)
    packed = {k: np.concatenate([a[k], b[k]], axis=1) for k in a}
    packed["decoder_segment_ids"] = np.concatenate(
        [a["decoder_segment_ids"], 2 * b["decoder_segment_ids"]], 1
    )

    def token_nll(batch):
        logits = logits_fn(params, batch["decoder_input_tokens"], batch["decoder_positions"],
                           batch["decoder_segment_ids"])  # fmt: skip
        return -objectives.losses.token_log_probs(logits, batch["decoder_target_tokens"])[0]

    separate = np.concatenate([token_nll(a), token_nll(b)])
    np.testing.assert_allclose(token_nll(packed), separate, rtol=1e-5, atol=1e-5)
    # Without segment ids the second example would see the first: the losses differ.
    leaky = dict(packed, decoder_segment_ids=np.ones_like(packed["decoder_segment_ids"]))
    assert not np.allclose(token_nll(leaky)[8:], separate[8:], atol=1e-4)


@pytest.mark.slow
def test_verifier_objectives_on_pair_batch():
    params = transformer.init_params(TINY, jax.random.key(5))
    rng = np.random.default_rng(6)
    pos, neg, gen = (make_rows(rng, 4, 6, 2) for _ in range(3))
    neg["decoder_loss_weights"][3] = 0  # a padding pair: masked out
    batch = {"pos": pos, "neg": neg, "gen": gen}
    ids = (3, 4)
    label_logits = {
        g: objectives.losses.label_position_logits(
            logits_fn(
                params, d["decoder_input_tokens"], d["decoder_positions"], d["decoder_segment_ids"]
            ),
            d["decoder_loss_weights"],
        )
        for g, d in batch.items()
    }
    ls = {g: jax.nn.log_softmax(v[:, [3, 4]], -1) for g, v in label_logits.items()}
    hinge = np.maximum(0.0, ls["neg"][:3, 0] - ls["pos"][:3, 0] + 0.5)
    loss, m = objectives.compute_loss(
        objectives.Objective("verifier_margin", 0.5, 1.0, ids), logits_fn, params, batch
    )
    assert float(loss) == pytest.approx(float(np.mean(hinge)), rel=1e-5)
    assert float(m["examples"]) == 3
    xent = -(ls["pos"][:3, 0] + ls["neg"][:3, 1]) / 2
    mle, _ = objectives.losses.mle_loss(
        logits_fn(params, gen["decoder_input_tokens"], gen["decoder_positions"], gen["decoder_segment_ids"]),
        gen["decoder_target_tokens"], gen["decoder_loss_weights"],
    )  # fmt: skip
    loss, _ = objectives.compute_loss(
        objectives.Objective("joint_xent", 0.5, 0.3, ids), logits_fn, params, batch
    )
    assert float(loss) == pytest.approx(float(np.mean(xent) + 0.3 * mle), rel=1e-5)
    with pytest.raises(ValueError, match="pair batch"):
        objectives.compute_loss(objectives.Objective("contrastive"), logits_fn, params, pos)
