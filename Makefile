# The two commands a new user types (see README): `make smoke` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: setup setup-test test test-fast lint smoke bench clean

# Two stamps: `make smoke` needs only the package (pip install -e .); `make test` adds the test
# extra (pytest, ruff, import-linter, torch + transformers for the parity tests).
$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP) setup.py
	$(PY) -m pip install -q -e '.[test]'
	touch $(TEST_STAMP)

setup: $(STAMP)

setup-test: $(TEST_STAMP)

lint: setup-test
	$(VENV)/bin/ruff check mathft_jax tests
	$(VENV)/bin/ruff format --check mathft_jax tests
	$(VENV)/bin/lint-imports

# The README's test command: lint, then every test (slow end-to-end ones included). The 20
# slowest are listed at the end, so a CI log shows where its time goes.
test: lint
	$(PY) -m pytest -q --durations=20 tests

# Fast tests only, for the edit-test loop.
test-fast: setup-test
	$(PY) -m pytest -q -m "not slow" tests

# The main job: the whole recipe on the built-in synthetic task with a tiny model on CPU.
smoke: setup
	$(PY) -m mathft_jax.recipe --gin_file=gin/recipe_smoke.gin

# The peer benchmarks (print ratios against PyTorch/transformers and naive grading; minutes).
bench: setup-test
	$(PY) -m mathft_jax.benchmarks.grading
	$(PY) -m mathft_jax.benchmarks.train
	$(PY) -m mathft_jax.benchmarks.decode

clean:
	rm -rf $(VENV) runs
