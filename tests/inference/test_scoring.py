"""Verifier scoring: S_cls by hand on unpadded rows, the score job on a tiny file, and resume."""

import json

import decode_fakes as fakes
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mathft_jax.inference import scoring

RECORDS = [
    {
        "unique_id": f"p{i}",
        "problem": f"{i}+{i}?",
        "answer": str(2 * i),
        "samples": [f"\\boxed{{{j}}}" for j in range(i + 1)],
        "meta": {"seed": 0},
    }
    for i in range(4)
]


def prompt_fn(problem, solution):
    return f"P: {problem}\nS: {solution}\nThe above is "


@pytest.fixture(scope="module")
def params():
    return fakes.init_params()


def by_hand(params, problem, solution):
    vocab = fakes.ByteVocab()
    ids = [0] + vocab.encode(prompt_fn(problem, solution))
    logits, _ = fakes.apply(params, jnp.asarray([ids]), jnp.arange(len(ids))[None], None, None)
    probs = jax.nn.softmax(logits[0, -1])
    c, i = vocab.encode("correct")[0], vocab.encode("incorrect")[0]
    return float(probs[c] / (probs[c] + probs[i]))


def score(params, src, dst, batch_size=4):
    return scoring.score_candidates(
        str(src),
        str(dst),
        params=params,
        model=fakes.MODEL,
        vocab=fakes.ByteVocab(),
        prompt_fn=prompt_fn,
        batch_size=batch_size,
        max_len=48,
        meta={"checkpoint": "v"},
    )


def test_score_job_adds_aligned_scores(params, tmp_path):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    assert score(params, src, dst) == 4
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [r["unique_id"] for r in out] == ["p0", "p1", "p2", "p3"]
    for rec, orig in zip(out, RECORDS):
        assert rec["samples"] == orig["samples"]
        expected = [by_hand(params, rec["problem"], s) for s in rec["samples"]]
        np.testing.assert_allclose(rec["verifier_scores"], expected, rtol=1e-4)
        assert rec["meta"] == {"seed": 0, "verifier": {"checkpoint": "v"}}
    all_scores = [s for r in out for s in r["verifier_scores"]]
    assert 0 < min(all_scores) and max(all_scores) < 1 and len(set(all_scores)) > 1


def test_score_job_resumes(params, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    score(params, src, full, batch_size=8)
    lines = full.read_text().splitlines(keepends=True)
    part.write_text(lines[0] + lines[1][:10])
    assert score(params, src, part, batch_size=8) == 3
    got = [json.loads(x) for x in part.read_text().splitlines()]
    want = [json.loads(x) for x in lines]
    assert [r["unique_id"] for r in got] == [r["unique_id"] for r in want]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g["verifier_scores"], w["verifier_scores"], rtol=1e-5)


def test_label_words_must_differ_in_first_token():
    assert scoring.label_token_ids(fakes.ByteVocab(), "correct", "incorrect") == (102, 108)
    with pytest.raises(ValueError, match="correct_word"):
        scoring.label_token_ids(fakes.ByteVocab(), "yes", "yeah")


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # tied embeddings, no softcap
        {"tie_embeddings": False, "final_logit_softcap": 5.0},  # own head, soft-capped logits
        {"scan_layers": False},
    ],
)
def test_two_head_columns_give_the_full_logits_score(overrides):
    """Scoring reads two head columns at the last position (no [batch, length, vocab] logits);
    it must give what the whole logits give."""
    import dataclasses

    from mathft_jax.inference import decoding
    from mathft_jax.models import config as model_config
    from mathft_jax.models import transformer

    cfg = dataclasses.replace(
        model_config.ModelConfig(vocab_size=384, embed_dim=64, num_layers=2, num_heads=4,
                                 num_kv_heads=2, head_dim=16, mlp_dim=128),
        **overrides,
    )  # fmt: skip
    params = transformer.init_params(cfg, jax.random.PRNGKey(0))
    tokens = jax.random.randint(jax.random.PRNGKey(1), (3, 12), 3, 384)
    segment_ids = jnp.ones((3, 12), jnp.int32).at[0, :4].set(0).at[1, :1].set(0)  # left padding
    tokens = jnp.where(segment_ids == 0, 0, tokens)
    label_ids = jnp.asarray([99, 105], jnp.int32)
    fns = decoding.decoder_fns(cfg)
    assert fns.last_label_logits is not None
    two_columns = scoring.verifier_scores(params, tokens, segment_ids, label_ids, model=fns)
    full = dataclasses.replace(fns, last_label_logits=None)
    whole = scoring.verifier_scores(params, tokens, segment_ids, label_ids, model=full)
    np.testing.assert_allclose(np.asarray(two_columns), np.asarray(whole), rtol=1e-5, atol=1e-6)
    assert float(jnp.std(whole)) > 1e-4  # rows differ: the comparison is on real scores
