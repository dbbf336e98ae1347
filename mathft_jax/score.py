"""Score: add the verifier's S_cls to every sample of a candidates file.

    python -m mathft_jax.score --gin_file=gin/models/tiny.gin --gin_file=gin/score.gin \
        --gin.CHECKPOINT_PATH=runs/verifier/best --gin.CANDIDATES=in.jsonl --gin.OUTPUT=out.jsonl

The logic lives in `mathft_jax.inference.scoring`; this file reads gin and calls it. A restarted run
appends to OUTPUT and skips the records already there.
"""

import logging
import sys
from collections.abc import Sequence

import gin

from mathft_jax import cli
from mathft_jax.inference import runtime, scoring


@gin.configurable
def run_score(
    checkpoint_path: str = gin.REQUIRED,
    candidates_path: str = gin.REQUIRED,
    output_path: str = gin.REQUIRED,
    batch_size: int = 32,
    max_len: int = 1024,
    use_mesh: bool = True,
) -> int:
    """Scores `candidates_path` into `output_path`; returns records written (gin: gin/score.gin)."""
    from mathft_jax.runtime import multihost

    # One job per OUTPUT (process 0 holds it): a second one stops here, naming this one.
    with multihost.hold_lock(output_path, "score", is_dir=False):
        from mathft_jax.data.prompts import verifier_prompt, verifier_words

        correct_word, incorrect_word = verifier_words()
        mesh = runtime.mesh() if use_mesh else None
        model, params = runtime.load_model(checkpoint_path, mesh=mesh)
        written = scoring.score_candidates(
            candidates_path,
            output_path,
            params=params,
            model=model,
            vocab=runtime.vocabulary(),
            prompt_fn=verifier_prompt,
            batch_size=batch_size,
            max_len=max_len,
            correct_word=correct_word,
            incorrect_word=incorrect_word,
            mesh=mesh,
            meta={"checkpoint": checkpoint_path, "correct_word": correct_word},
        )
        logging.info("wrote %d scored records to %s", written, output_path)
        return written


def main(argv: Sequence[str]) -> None:
    cli.run_job(argv, run_score)


if __name__ == "__main__":
    main(sys.argv[1:])
