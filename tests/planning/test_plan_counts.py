"""Model FLOPs from the config and collectives read from compiled HLO text (no compile needed)."""

import pytest

from mathft_jax.models import ModelConfig
from mathft_jax.planning import chips, flops, hlo

HLO = """HloModule jit_step, entry_computation_layout={(f32[8]{0})->f32[8]{0}}

%body (p: (s32[], bf16[4,8])) -> (s32[], bf16[4,8]) {
  %ag = bf16[4,8]{1,0:T(8,128)(2,1)} all-gather(bf16[1,8]{1,0} %x), channel_id=1, dimensions={0}
  ROOT %t = (s32[], bf16[4,8]) tuple(%i, %ag)
}

%cond (p: (s32[], bf16[4,8])) -> pred[] {
  ROOT %lt = pred[] compare(%a, %b), direction=LT
}

%fused (a: f32[8]) -> f32[8] {
  ROOT %ar = f32[8]{0} all-reduce(f32[8]{0} %a), channel_id=2, to_apply=%add
}

ENTRY %main (param.0: f32[8], /*index=1*/param.1: f32[2]) -> f32[8] {
  %w = (s32[], bf16[4,8]) while(%init), condition=%cond, body=%body, backend_config={"known_trip_count":{"n":"16"}}
  %f = f32[8]{0} fusion(%param.0), kind=kCustom, calls=%fused
  ROOT %rs = f32[2]{0} reduce-scatter(f32[8]{0} %f), channel_id=3, dimensions={0}
}
"""


def test_collectives_count_loop_bodies_per_iteration():
    c = hlo.collectives(HLO)
    assert c["all-gather"] == {"count": 16, "bytes": 16 * 4 * 8 * 2, "unknown_loops": 0}
    assert c["all-reduce"]["count"] == 1 and c["all-reduce"]["bytes"] == 32
    assert c["reduce-scatter"]["count"] == 1 and c["reduce-scatter"]["bytes"] == 8
    assert c["all-to-all"]["count"] == 0


def test_llama3_8b_train_flops_are_six_n_d_plus_attention_and_remat():
    cfg = ModelConfig(
        vocab_size=128256, embed_dim=4096, num_layers=32, num_heads=32, num_kv_heads=8,
        head_dim=128, mlp_dim=14336, remat=True, tie_embeddings=False,
    )  # fmt: skip
    n_matmul = cfg.num_params() - cfg.vocab_size * cfg.embed_dim  # the embedding lookup is free
    f = flops.train_flops(cfg, rows=64, length=1536)
    tokens = 64 * 1536
    attention = 4 * tokens * (1536 + 1) / 2 * 32 * 128 * 32
    assert f["forward"] == pytest.approx(2 * n_matmul * tokens + attention, rel=0.01)
    assert f["backward"] == 2 * f["forward"]
    assert 0 < f["remat_recompute"] < f["forward"]
    assert f["total"] == pytest.approx(3 * f["forward"] + f["remat_recompute"])


def test_roofline_is_the_slower_of_compute_and_memory():
    v5e = chips.CHIPS["v5e"]
    assert flops.roofline_seconds(197e12, 0, v5e) == pytest.approx(1.0)
    assert flops.roofline_seconds(0, 0.819e12, v5e) == pytest.approx(1.0)


# As TPU programs print the layer scan: no known_trip_count, a `counter < constant` condition on
# tuple element 0, the counter starting from a copied constant in the while's operand tuple.
HLO_NO_TRIP = """HloModule jit_step, entry_computation_layout={(f32[8]{0})->f32[8]{0}}

%body (p: (s32[], bf16[4,8])) -> (s32[], bf16[4,8]) {
  %ag = bf16[4,8]{1,0:T(8,128)(2,1)} all-gather(bf16[1,8]{1,0} %x), channel_id=1, dimensions={0}
  ROOT %t = (s32[], bf16[4,8]) tuple(%i, %ag)
}

%cond (wide.param.49: (s32[], bf16[4,8])) -> pred[] {
  %constant.458.clone.3 = s32[]{:T(128)} constant(COUNT)
  %wide.param.49 = (s32[]{:T(128)}, bf16[4,8]) parameter(0)
  %get-tuple-element.3221 = s32[]{:T(128)} get-tuple-element(%wide.param.49), index=0
  ROOT %lt.85 = pred[]{:T(512)} compare(%get-tuple-element.3221, %constant.458.clone.3), direction=LT, metadata={op_name="while/cond/lt"}
}

ENTRY %main (param.0: f32[8]) -> f32[8] {
  %constant.469.clone = s32[]{:T(128)} constant(START)
  %copy.334 = s32[]{:T(128)} copy(%constant.469.clone)
  %tuple.292 = (s32[]{:T(128)}, bf16[4,8]) tuple(%copy.334, %x)
  %w = (s32[], bf16[4,8]) while(%tuple.292), condition=%cond, body=%body
  ROOT %r = f32[8]{0} copy(%param.0)
}
"""


@pytest.mark.parametrize("start,count,expected", [(0, 28, 28), (2, 28, 26)])
def test_a_loop_without_known_trip_count_is_counted_from_its_condition(start, count, expected):
    text = HLO_NO_TRIP.replace("START", str(start)).replace("COUNT", str(count))
    c = hlo.collectives(text)
    assert c["all-gather"]["count"] == expected and c["all-gather"]["unknown_loops"] == 0
    assert c["all-gather"]["bytes"] == expected * 4 * 8 * 2


def test_a_loop_whose_counter_start_is_not_a_constant_stays_marked_unknown():
    text = HLO_NO_TRIP.replace("START", "0").replace("COUNT", "28")
    text = text.replace("copy(%constant.469.clone)", "copy(%param.0)")
    c = hlo.collectives(text)
    assert c["all-gather"]["count"] == 1 and c["all-gather"]["unknown_loops"] == 1
