"""Install mathft_jax: `pip install -e .[test]` for development and CI."""

from setuptools import find_packages, setup

INSTALL_REQUIRES = [
    "absl-py>=2.1,<3",
    "numpy>=1.26,<3",
    "jax[cpu]>=0.4.35,<0.13",
    "flax>=0.10,<0.13",
    "optax>=0.2.3,<0.3",
    "orbax-checkpoint>=0.11,<0.13",
    "seqio>=0.0.19,<0.1",
    "gin-config>=0.5,<0.6",
    "sympy>=1.12,<1.15",
    "safetensors>=0.4,<0.9",
    "tokenizers>=0.19,<0.24",
    "sentencepiece>=0.2,<0.3",
    "matplotlib>=3.8,<3.12",
    "tensorboardX>=2.6,<2.7",
    "gguf>=0.10,<0.20",  # GGUF checkpoint import (models/gguf_io.py)
]

EXTRAS_REQUIRE = {
    # torch is pinned to the CPU build that lies on this workplace's disk: a looser range makes pip
    # pull a multi-GB CUDA build. It and transformers are used only by parity tests and benchmarks.
    "test": [
        "pytest>=8,<10",
        "pytest-xdist>=3.5,<4",
        "ruff>=0.6,<0.18",
        "import-linter>=2.1,<3",
        "torch==2.13.0",
        "transformers>=4.45,<6",
        # Compile-only TPU devices for `python -m mathft_jax.plan` and tests/planning: the libtpu
        # that `jax[tpu]` pins for the jax installed here (jax 0.10.2 -> libtpu 0.0.42.1).
        "libtpu==0.0.42.1",
        "accelerate>=1.0,<2",  # transformers needs it to load a GGUF (reference side only)
    ],
}

setup(
    name="mathft_jax",
    version="0.1.0",
    description="JAX/Flax fine-tuning of LLMs for math problems (Liu et al., 2023): SSFT, SCR, multi-task.",
    packages=find_packages(include=["mathft_jax", "mathft_jax.*"]),
    python_requires=">=3.10",
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
)
