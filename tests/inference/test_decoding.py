"""The KV-cache decode loop against full-forward re-runs, N-fold prefill, other batchings and EOS."""

import decode_fakes as fakes
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mathft_jax.inference import decoding
from mathft_jax.inference.sampling import SamplingConfig

PROMPTS = [[5, 6, 7], [3, 4, 5, 6, 7, 8], [9], [10, 11, 12, 13]]
PROMPT_LEN = 8


def left_pad(prompts, length=PROMPT_LEN):
    tokens = np.zeros((len(prompts), length), np.int32)
    segs = np.zeros((len(prompts), length), np.int32)
    for i, p in enumerate(prompts):
        tokens[i, length - len(p) :] = p
        segs[i, length - len(p) :] = 1
    return jnp.asarray(tokens), jnp.asarray(segs)


@pytest.fixture(scope="module")
def params():
    return fakes.init_params()


def run(params, prompts, indices, eos_id=-1, pad_id=0, **config):
    """`decode` of `prompts` with a `DecodeConfig(**config)`; no EOS unless a test asks."""
    tokens, segs = left_pad(prompts)
    keys = decoding.problem_keys(0, jnp.asarray(indices))
    config.setdefault("sampling", SamplingConfig())
    return decoding.decode(
        params,
        tokens,
        segs,
        keys,
        model=fakes.MODEL,
        config=decoding.DecodeConfig(**config),
        eos_id=eos_id,
        pad_id=pad_id,
    )


def test_greedy_with_cache_equals_full_forward_argmax(params):
    steps = 6
    out, lengths = run(
        params, PROMPTS, range(4), num_samples=0, max_decode_len=steps, include_greedy=True
    )
    # Re-run the whole sequence without a cache each step; right padding to a fixed 16 keeps one
    # compile (causal attention never looks right).
    forward = jax.jit(lambda t: fakes.apply(params, t, jnp.arange(16)[None], None, None)[0])
    for b, prompt in enumerate(PROMPTS):
        seq = list(prompt)
        for _ in range(steps):
            logits = forward(jnp.asarray([seq + [0] * (16 - len(seq))], jnp.int32))
            seq.append(int(jnp.argmax(logits[0, len(seq) - 1])))
        assert out[b, 0].tolist() == seq[len(prompt) :], f"prompt {b}"
    assert lengths.tolist() == [[steps]] * 4


def test_shared_prefill_equals_n_fold_prefill(params):
    kwargs = dict(num_samples=3, max_decode_len=7, include_greedy=True)
    shared, _ = run(params, PROMPTS, range(4), share_prefill=True, **kwargs)
    n_fold, _ = run(params, PROMPTS, range(4), share_prefill=False, **kwargs)
    np.testing.assert_array_equal(shared, n_fold)
    # The samples of one prompt differ from each other (the keys differ), else sharing proved nothing.
    assert len({tuple(row) for row in np.asarray(shared[1, 1:]).tolist()}) > 1


def test_samples_do_not_depend_on_batching(params):
    kwargs = dict(num_samples=4, max_decode_len=6, include_greedy=True)
    whole, _ = run(params, PROMPTS, range(4), **kwargs)
    first, _ = run(params, PROMPTS[:2], [0, 1], **kwargs)
    last, _ = run(params, PROMPTS[3:], [3], **kwargs)
    np.testing.assert_array_equal(whole[:2], first)
    np.testing.assert_array_equal(whole[3:], last)
    other_seed = decoding.decode(
        params,
        *left_pad(PROMPTS),
        decoding.problem_keys(1, jnp.arange(4)),
        model=fakes.MODEL,
        config=decoding.DecodeConfig(sampling=SamplingConfig(), **kwargs),
        eos_id=-1,
    )[0]
    assert not np.array_equal(whole[:, 1:], other_seed[:, 1:])
    np.testing.assert_array_equal(whole[:, 0], other_seed[:, 0])  # greedy needs no key


def test_eos_stops_rows_and_pads_after(params):
    greedy, _ = run(params, PROMPTS, range(4), num_samples=0, max_decode_len=6, include_greedy=True)
    eos = int(greedy[0, 0, 2])  # row 0 emits this at step 2
    out, lengths = run(
        params,
        PROMPTS,
        range(4),
        num_samples=0,
        max_decode_len=6,
        include_greedy=True,
        eos_id=eos,
        pad_id=0,
    )
    first_eos = greedy[0, 0].tolist().index(eos)
    assert lengths[0, 0] == first_eos + 1
    assert out[0, 0, : first_eos + 1].tolist() == greedy[0, 0, : first_eos + 1].tolist()
    assert out[0, 0, first_eos + 1 :].tolist() == [0] * (5 - first_eos)
    ignored, ignored_len = run(
        params,
        PROMPTS,
        range(4),
        num_samples=0,
        max_decode_len=6,
        include_greedy=True,
        eos_id=eos,
        ignore_eos=True,
    )
    np.testing.assert_array_equal(ignored, greedy)
    assert ignored_len.min() == 6


def test_loop_stops_when_all_rows_are_done(params):
    calls = []

    def counting_apply(p, tokens, positions, segs, cache):
        jax.debug.callback(lambda: calls.append(1))
        return fakes.apply(p, tokens, positions, segs, cache)

    model = decoding.ModelFns(apply=counting_apply, init_cache=fakes.init_cache)
    greedy, _ = run(params, PROMPTS, range(4), num_samples=0, max_decode_len=8, include_greedy=True)
    eos = int(greedy[0, 0, 0])
    tokens, segs = left_pad(PROMPTS[:1])
    _, lengths = decoding.decode(
        params,
        tokens,
        segs,
        decoding.problem_keys(0, jnp.arange(1)),
        model=model,
        config=decoding.DecodeConfig(
            num_samples=0, max_decode_len=8, sampling=SamplingConfig(), include_greedy=True
        ),
        eos_id=eos,
    )
    jax.effects_barrier()
    assert lengths.tolist() == [[1]]
    assert len(calls) == 2  # prefill + one step, not 1 + 8


def test_decode_output_is_sharded_over_the_data_axis(params):
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()), ("data",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
    prompts = PROMPTS * 2
    tokens, segs = left_pad(prompts)
    keys = decoding.problem_keys(0, jnp.arange(8))
    args = [jax.device_put(x, sharding) for x in (tokens, segs, keys)]
    out, _ = decoding.decode(
        params,
        *args,
        model=fakes.MODEL,
        config=decoding.DecodeConfig(num_samples=2, max_decode_len=4, sampling=SamplingConfig()),
        eos_id=-1,
    )
    assert len(out.sharding.device_set) == 8
    ref, _ = run(params, prompts, range(8), num_samples=2, max_decode_len=4)
    np.testing.assert_array_equal(out, ref)
