"""The objective table: one loss function per equation, picked by `Objective.kind` (fast: a
bigram-table "model" stands in for the transformer)."""

import jax
import numpy as np
import pytest
from train_fakes import VOCAB, make_rows

from mathft_jax.training import losses, objectives


def bigram_logits(table, tokens, positions, segment_ids):
    return table[tokens]  # [batch, length, vocab]


@pytest.fixture
def batches():
    rng = np.random.default_rng(0)
    pos, neg, gen = (make_rows(rng, 4, 6, 2) for _ in range(3))
    neg["decoder_loss_weights"][3] = 0  # a padding pair: masked out
    table = jax.random.normal(jax.random.key(1), (VOCAB, VOCAB))
    return table, {"pos": pos, "neg": neg, "gen": gen}


def test_every_kind_has_its_function():
    assert sorted(objectives.LOSSES) == sorted(objectives.KINDS)
    assert len(set(objectives.LOSSES.values())) == len(objectives.KINDS)
    assert objectives.loss_for(objectives.Objective("contrastive")).func is objectives.contrastive


def test_joint_losses_add_alpha_mle_to_their_classifier(batches):
    table, batch = batches
    gen = batch["gen"]
    mle, _ = losses.mle_loss(
        table[gen["decoder_input_tokens"]], gen["decoder_target_tokens"],
        gen["decoder_loss_weights"],
    )  # fmt: skip
    for joint, cls_kind in (("joint_margin", "verifier_margin"), ("joint_xent", None)):
        obj = objectives.Objective(joint, 0.5, 0.3, (3, 4))
        loss, m = objectives.loss_for(obj)(bigram_logits, table, batch)
        assert float(loss) == pytest.approx(float(m["cls_loss"]) + 0.3 * float(mle), rel=1e-6)
        assert float(m["mle"]) == pytest.approx(float(mle)) and float(m["examples"]) == 3
        if cls_kind:
            cls, _ = objectives.compute_loss(
                objectives.Objective(cls_kind, 0.5, 0.3, (3, 4)), bigram_logits, table, batch
            )
            assert float(m["cls_loss"]) == pytest.approx(float(cls))
    with pytest.raises(ValueError, match="'gen' group"):
        objectives.compute_loss(
            objectives.Objective("joint_xent", label_ids=(3, 4)), bigram_logits, table,
            {"pos": batch["pos"], "neg": batch["neg"]},
        )  # fmt: skip


def test_flat_and_pair_kinds_refuse_the_other_batch(batches):
    table, batch = batches
    with pytest.raises(ValueError, match="got a pair batch"):
        objectives.compute_loss(objectives.Objective("mle"), bigram_logits, table, batch)
    with pytest.raises(ValueError, match="needs a pair batch"):
        objectives.compute_loss(
            objectives.Objective("verifier_margin", label_ids=(3, 4)), bigram_logits, table,
            batch["pos"],
        )  # fmt: skip
    loss, m = objectives.compute_loss(
        objectives.Objective("mle"), bigram_logits, table, batch["gen"]
    )
    assert float(m["target_tokens"]) == batch["gen"]["decoder_loss_weights"].sum()
    assert float(loss) == float(m["mle"])


def test_contrastive_mle_is_on_the_gen_group_the_reference(batches):
    # Eq. 11's L_mle is Eq. 3 on the problem's reference solution (the gen group), not on the
    # sampled correct solution of the pair (pos).
    table, batch = batches
    gen = batch["gen"]
    mle, _ = losses.mle_loss(
        table[gen["decoder_input_tokens"]], gen["decoder_target_tokens"],
        gen["decoder_loss_weights"],
    )  # fmt: skip
    loss, m = objectives.compute_loss(
        objectives.Objective("contrastive", 0.5, 0.3), bigram_logits, table, batch
    )
    assert float(m["mle"]) == pytest.approx(float(mle))
    with pytest.raises(ValueError, match="'gen' group"):
        objectives.compute_loss(
            objectives.Objective("contrastive"), bigram_logits, table,
            {"pos": batch["pos"], "neg": batch["neg"]},
        )  # fmt: skip
