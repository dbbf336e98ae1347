"""Convert a checkpoint into a Hugging Face folder that `hf_io` (and transformers) load.

    python -m mathft_jax.models.convert --gguf SmolLM2-135M-Instruct.Q4_1.gguf --output_dir DIR
    python -m mathft_jax.models.convert --checkpoint runs/base/checkpoints/2000 \\
        --model_gin models/tiny.gin --output_dir DIR

From a GGUF, DIR gets `config.json`, `model.safetensors` (float32, dequantized), `tokenizer.json`
and `tokenizer_config.json` (the GGUF's own tokenizer and special tokens). From one of our orbax
checkpoints (a step dir or a MODEL_DIR: its best, else latest step) with the gin file of its model,
DIR gets `config.json` and `model.safetensors` in the checkpoint's dtype (no tokenizer: the byte
vocabulary needs none). Use DIR as `INITIAL_CHECKPOINT_PATH` / `CHECKPOINT_PATH`.
"""

from absl import app, flags

_GGUF = flags.DEFINE_string("gguf", None, "GGUF file to convert.")
_CHECKPOINT = flags.DEFINE_string("checkpoint", None, "Orbax step dir or MODEL_DIR to convert.")
_MODEL_GIN = flags.DEFINE_string(
    "model_gin", None, "The checkpoint's model gin file (e.g. models/tiny.gin); with --checkpoint."
)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Folder to write.", required=True)


def checkpoint_to_hf(checkpoint: str, model_gin: str, output_dir: str) -> str:
    """Writes an orbax checkpoint of the `model_gin` model as an HF folder; returns its path."""
    from mathft_jax.models import config, hf_io
    from mathft_jax.runtime import checkpoints

    cfg = config.config_from_gin_file(model_gin)
    params = checkpoints.load_params(checkpoint, model_config=cfg)
    hf_io.save_hf_checkpoint(output_dir, cfg, params)
    return output_dir


def main(argv: list[str]) -> None:
    del argv
    if (_GGUF.value is None) == (_CHECKPOINT.value is None):
        raise app.UsageError("give exactly one of --gguf and --checkpoint")
    if _GGUF.value is not None:
        from mathft_jax.models import gguf_io

        out = gguf_io.convert_gguf(_GGUF.value, _OUTPUT_DIR.value)
    else:
        if _MODEL_GIN.value is None:
            raise app.UsageError("--checkpoint needs --model_gin (e.g. models/tiny.gin)")
        out = checkpoint_to_hf(_CHECKPOINT.value, _MODEL_GIN.value, _OUTPUT_DIR.value)
    print(f"wrote {out}")


if __name__ == "__main__":
    app.run(main)
