"""Our paths against transformers on a real model (SmolLM2-135M-Instruct from its GGUF, f32) and its
own tokenizer: greedy decode, verifier score, SSFT loss, the sampling law, and train -> export.

The model is converted once per cache (tests/real_artifacts.py); transformers loads the same
converted folder (`test_gguf_io` checks it against transformers' own GGUF load)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mathft_jax.data import prompts, vocabularies
from mathft_jax.inference import decoding, generation, scoring
from mathft_jax.inference.sampling import SamplingConfig
from mathft_jax.models import hf_io

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

NUM_PROBLEMS, NEW_TOKENS = 5, 48


@pytest.fixture(scope="module")
def real(smollm2_hf_dir):
    cfg, params = hf_io.load_hf_checkpoint(smollm2_hf_dir, param_dtype="float32")
    vocab = vocabularies.HFTokenizerVocabulary(str(smollm2_hf_dir / "tokenizer.json"))
    torch.manual_seed(0)
    hf = transformers.AutoModelForCausalLM.from_pretrained(
        str(smollm2_hf_dir), dtype=torch.float32
    ).eval()
    return cfg, params, vocab, hf


@pytest.fixture(scope="module")
def math500(math_data_dir):
    ids = (math_data_dir / "math500_ids.txt").read_text().split()[:NUM_PROBLEMS]
    rows = {}
    for line in (math_data_dir / "test.jsonl").read_text().splitlines():
        row = json.loads(line)
        rows[row.get("unique_id")] = row
    return [rows[i] for i in ids]


def _hf_ids(vocab, text):
    f = vocabularies.framing(vocab)
    return ([] if f.begin_id is None else [f.begin_id]) + list(vocab.encode(text))


def test_greedy_decode_equals_transformers_generate(real, math500):
    cfg, params, vocab, hf = real
    texts = [prompts.ssft_prompt(r["problem"]) for r in math500]
    max_prompt = max(len(_hf_ids(vocab, t)) for t in texts)
    tokens, segs, _ = generation.encode_prompts(vocab, texts, max_prompt)
    out, lengths = decoding.decode(
        params,
        jnp.asarray(tokens),
        jnp.asarray(segs),
        decoding.problem_keys(0, jnp.arange(len(texts))),
        model=decoding.decoder_fns(cfg),
        config=decoding.DecodeConfig(
            num_samples=0, max_decode_len=NEW_TOKENS, sampling=SamplingConfig(), include_greedy=True
        ),
        eos_id=vocab.eos_id,
        pad_id=vocabularies.framing(vocab).pad_id,
    )
    out, lengths = np.asarray(out), np.asarray(lengths)
    equal = 0
    for i, text in enumerate(texts):
        ids = _hf_ids(vocab, text)  # what the tokenizer itself gives for the prompt text
        with torch.no_grad():
            ref = hf.generate(
                torch.tensor([ids]),
                max_new_tokens=NEW_TOKENS,
                do_sample=False,
                eos_token_id=vocab.eos_id,
                pad_token_id=vocab.eos_id,
            )[0, len(ids) :].tolist()
        ours = out[i, 0, : lengths[i, 0]].tolist()
        assert ours == ref, f"problem {i}: ours {ours} != transformers {ref}"
        equal += len(ours) == NEW_TOKENS
    print(
        f"decode parity: {len(texts)} MATH-500 problems x {NEW_TOKENS} tokens equal ({equal} full)"
    )


def test_verifier_score_equals_transformers(real, math500):
    cfg, params, vocab, hf = real
    pairs = [(r["problem"], r["solution"]) for r in math500[:3]]
    ours = scoring.score_texts(
        params,
        pairs,
        model=decoding.decoder_fns(cfg),
        vocab=vocab,
        prompt_fn=prompts.verifier_prompt,
        max_len=512,
    )
    yes, no = vocab.encode("correct")[0], vocab.encode("incorrect")[0]
    for (p, s), got in zip(pairs, ours):
        ids = _hf_ids(vocab, prompts.verifier_prompt(p, s))
        with torch.no_grad():
            logp = torch.log_softmax(hf(torch.tensor([ids])).logits[0, -1].double(), -1)
        want = float(torch.exp(logp[yes]) / (torch.exp(logp[yes]) + torch.exp(logp[no])))
        print(f"score parity: ours {got:.6f} transformers {want:.6f} diff {abs(got - want):.1e}")
        assert abs(got - want) < 1e-4


def test_ssft_loss_through_task_converter_and_loss_equals_transformers(real, math_data_dir):
    from mathft_jax.data import pipeline, tasks
    from mathft_jax.models import transformer
    from mathft_jax.training import losses

    cfg, params, vocab, hf = real
    tasks.register_builtin_tasks()
    lengths = {"inputs": 256, "targets": 512}
    batch = next(
        pipeline.batch_iterator(
            "math_ssft_human", "validation", 2, lengths, shuffle=False, vocabulary=vocab
        )
    )
    logits = transformer.Decoder(cfg).apply(
        {"params": params},
        jnp.asarray(batch["decoder_input_tokens"]),
        jnp.asarray(batch["decoder_positions"]),
        segment_ids=jnp.asarray(batch["decoder_segment_ids"]),
    )[0]
    ours, _ = losses.mle_loss(
        logits,
        jnp.asarray(batch["decoder_target_tokens"]),
        jnp.asarray(batch["decoder_loss_weights"]),
    )
    # transformers: the same two examples from their text, prompt masked with -100.
    from mathft_jax.data import registry

    examples = registry.get_task("math_ssft_human").examples("validation")[:2]
    total, count = 0.0, 0
    for ex in examples:
        p_ids = _hf_ids(vocab, ex["inputs"])
        t_ids = list(vocab.encode(ex["targets"]))[: lengths["targets"] - 1] + [vocab.eos_id]
        ids = p_ids + t_ids
        labels = [-100] * len(p_ids) + t_ids
        with torch.no_grad():
            out = hf(torch.tensor([ids]), labels=torch.tensor([labels]))
        total += float(out.loss) * len(t_ids)
        count += len(t_ids)
    want = total / count
    rel = abs(float(ours) - want) / want
    print(f"SSFT loss parity: ours {float(ours):.6f} transformers {want:.6f} rel {rel:.1e}")
    assert rel < 1e-4


@pytest.mark.slow
def test_first_sampled_token_follows_the_nucleus_of_transformers_logits(real, math500):
    cfg, params, vocab, hf = real
    text = prompts.ssft_prompt(math500[0]["problem"])
    ids = _hf_ids(vocab, text)
    draws, temperature, top_p = 2000, 0.6, 0.95
    tokens, segs, _ = generation.encode_prompts(vocab, [text], len(ids))
    out, _ = decoding.decode(
        params,
        jnp.asarray(tokens),
        jnp.asarray(segs),
        decoding.problem_keys(0, jnp.arange(1)),
        model=decoding.decoder_fns(cfg),
        config=decoding.DecodeConfig(
            num_samples=draws,
            max_decode_len=1,
            sampling=SamplingConfig(temperature=temperature, top_p=top_p),
        ),
        eos_id=vocab.eos_id,
        pad_id=vocabularies.framing(vocab).pad_id,
    )
    first = np.asarray(out)[0, :, 0]
    with torch.no_grad():
        logits = hf(torch.tensor([ids])).logits[0, -1].double().numpy()
    probs = np.exp((logits - logits.max()) / temperature)
    probs /= probs.sum()
    order = np.argsort(-probs)
    keep = order[: int(np.searchsorted(np.cumsum(probs[order]), top_p)) + 1]
    nucleus = np.zeros_like(probs)
    nucleus[keep] = probs[keep] / probs[keep].sum()
    freq = np.bincount(first, minlength=len(probs)) / draws
    tv = 0.5 * np.abs(freq - nucleus).sum()
    # Bound: E[TV] <= sum_i sqrt(p_i(1-p_i)/n)/2; allow 3x that (and never outside the nucleus).
    bound = 3 * 0.5 * np.sum(np.sqrt(nucleus * (1 - nucleus) / draws))
    print(
        f"sampling law: {draws} draws, nucleus {len(keep)} tokens, TV {tv:.4f} <= bound {bound:.4f}"
    )
    assert set(first.tolist()) <= set(keep.tolist())
    assert tv <= bound


@pytest.mark.slow
def test_ssft_steps_then_export_loads_in_transformers_with_our_logits(real, tmp_path):
    import optax

    from mathft_jax.data import pipeline, tasks
    from mathft_jax.models import transformer
    from mathft_jax.training import losses

    cfg, params, vocab, _ = real
    tasks.register_builtin_tasks()
    it = pipeline.batch_iterator(
        "math_ssft_human", "train", 2, {"inputs": 128, "targets": 128}, vocabulary=vocab
    )
    model = transformer.Decoder(cfg)
    opt = optax.adamw(1e-4)
    state = opt.init(params)

    @jax.jit
    def step(params, state, batch):
        def loss_fn(p):
            logits = model.apply(
                {"params": p},
                batch["decoder_input_tokens"],
                batch["decoder_positions"],
                segment_ids=batch["decoder_segment_ids"],
            )[0]
            return losses.mle_loss(
                logits, batch["decoder_target_tokens"], batch["decoder_loss_weights"]
            )[0]

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    trained = params
    for _ in range(3):
        batch = {k: jnp.asarray(v) for k, v in next(it).items()}
        trained, state, loss = step(trained, state, batch)
    hf_io.save_hf_checkpoint(tmp_path / "out", cfg, trained)
    ids = list(vocab.encode("Problem: What is $2+3$?\nSolution: "))
    ours = np.asarray(
        model.apply({"params": trained}, jnp.asarray([ids]), jnp.arange(len(ids))[None])[0]
    )
    base = np.asarray(
        model.apply({"params": params}, jnp.asarray([ids]), jnp.arange(len(ids))[None])[0]
    )
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(
        str(tmp_path / "out"), dtype=torch.float32
    )
    with torch.no_grad():
        ref = reloaded(torch.tensor([ids])).logits.numpy()
    rel = float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))
    moved = float(np.max(np.abs(ours - base)))
    print(
        f"train->export parity: 3 SSFT steps (loss {float(loss):.3f}), logits moved {moved:.3f}, "
        f"transformers reload max rel diff {rel:.1e}"
    )
    assert moved > 1e-3 and rel < 1e-4
