"""Decode: N sampled solutions (and the greedy one) per problem -> a candidates file.

    python -m mathft_jax.decode --gin_file=gin/models/tiny.gin --gin_file=gin/decode.gin \
        --gin.CHECKPOINT_PATH=runs/ssft/best --gin.OUTPUT=runs/ssft/candidates.jsonl

The logic lives in `mathft_jax.inference` (tests import it directly); this file reads gin and calls it.
A restarted run appends to OUTPUT and skips the problems already there.
"""

import logging
import sys
from collections.abc import Sequence

import gin

from mathft_jax import cli
from mathft_jax.inference import generation, runtime
from mathft_jax.inference.decoding import DecodeConfig
from mathft_jax.inference.prompting import build_prompt_fn
from mathft_jax.inference.sampling import SamplingConfig


@gin.configurable
def run_decode(
    checkpoint_path: str = gin.REQUIRED,
    output_path: str = gin.REQUIRED,
    source: str = "math",
    split: str = "test",
    num_problems: int | None = None,
    batch_size: int = 8,
    num_samples: int = 64,
    max_prompt_len: int = 512,
    max_decode_len: int = 512,
    seed: int = 0,
    include_greedy: bool = True,
    use_mesh: bool = True,
) -> int:
    """Decodes `split` of `source` (`mathft_jax.data.problems.load_problems`); returns records written.

    Args (all gin): see gin/decode.gin for what each knob does; they, with the gin-bound
    `SamplingConfig`, make the run's `DecodeConfig`, and the prompt style comes from
    `build_prompt_fn`.
    """
    from mathft_jax.runtime import multihost

    # One job per OUTPUT (process 0 holds it): a second one stops here, naming this one.
    with multihost.hold_lock(output_path, "decode", is_dir=False):
        from mathft_jax.data.problems import load_problems

        problems = list(load_problems(source, split))[:num_problems]
        mesh = runtime.mesh() if use_mesh else None
        model, params = runtime.load_model(checkpoint_path, mesh=mesh)
        prompt_fn, stops, prompt_meta = build_prompt_fn()
        config = DecodeConfig(
            num_samples=num_samples,
            max_decode_len=max_decode_len,
            sampling=SamplingConfig(),
            include_greedy=include_greedy,
            batch_size=batch_size,
            max_prompt_len=max_prompt_len,
            seed=seed,
        )
        written = generation.decode_problems(
            problems,
            output_path,
            params=params,
            model=model,
            vocab=runtime.vocabulary(),
            prompt_fn=prompt_fn,
            config=config,
            stops=stops,
            mesh=mesh,
            meta={
                "checkpoint": checkpoint_path,
                "source": source,
                "split": split,
                "prompt_template": prompt_fn("{problem}"),  # the exact prompt, k-shot examples too
                **prompt_meta,  # prompt_style; k-shot: format, k, seed and the shots' ids
            },
        )
        logging.info("wrote %d records to %s", written, output_path)
        return written


def main(argv: Sequence[str]) -> None:
    cli.run_job(argv, run_decode)


if __name__ == "__main__":
    main(sys.argv[1:])
