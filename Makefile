# The two commands a new user types (see README): `make smoke` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test test-fast lint smoke bench clean

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

lint: setup
	$(VENV)/bin/ruff check mathft_jax tests
	$(VENV)/bin/ruff format --check mathft_jax tests

# The README's test command: lint, then every test (slow end-to-end ones included).
test: lint
	$(PY) -m pytest -q tests

# Fast tests only, for the edit-test loop.
test-fast: setup
	$(PY) -m pytest -q -m "not slow" tests

# The main job: the whole recipe on the built-in synthetic task with a tiny model on CPU.
smoke: setup
	$(PY) -m mathft_jax.recipe --gin_file=gin/recipe_smoke.gin

# The peer benchmarks (print ratios against PyTorch/transformers and naive grading; minutes).
bench: setup
	$(PY) -m mathft_jax.benchmarks.grading
	$(PY) -m mathft_jax.benchmarks.train
	$(PY) -m mathft_jax.benchmarks.decode

clean:
	rm -rf $(VENV) runs
