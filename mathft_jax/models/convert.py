"""Convert a GGUF checkpoint into a Hugging Face folder that `hf_io` (and transformers) load.

    python -m mathft_jax.models.convert --gguf SmolLM2-135M-Instruct.Q4_1.gguf --output_dir DIR

DIR gets `config.json`, `model.safetensors` (float32, dequantized), `tokenizer.json` and
`tokenizer_config.json` (the GGUF's own tokenizer and special tokens). Use DIR as
`INITIAL_CHECKPOINT_PATH` / `CHECKPOINT_PATH` and `DIR/tokenizer.json` as the vocabulary.
"""

from absl import app, flags

from mathft_jax.models import gguf_io

_GGUF = flags.DEFINE_string("gguf", None, "GGUF file to convert.", required=True)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", None, "Folder to write.", required=True)


def main(argv: list[str]) -> None:
    del argv
    out = gguf_io.convert_gguf(_GGUF.value, _OUTPUT_DIR.value)
    print(f"wrote {out}")


if __name__ == "__main__":
    app.run(main)
