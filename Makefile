# Two entry points: `make demo` (set up, then run the default benchmark) and `make test`.
# `make test` runs both test tiers: the fast one (tiny in-memory datasets, under a minute), then the
# real one (real benchmark files and PyPI archives; skipped with one line each where they cannot be
# fetched). `make test-fast` runs the first only; `make test-real` the second.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXPERIMENT ?= default
JOBS ?= 2

FAST := not real and not slow and not heavy

.PHONY: demo test test-fast test-real test-heavy install install-test clean-venv

demo: $(VENV)/.installed
	$(BIN)/enso run $(EXPERIMENT) --jobs $(JOBS)

test: test-fast test-real

test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m "$(FAST)" -n 2

test-real: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m "not heavy and not ($(FAST))"

# Peak-memory, peer-library and whole-model checks (minutes each on 2 cores): run before a release.
test-heavy: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m heavy

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# torch is pinned in the same pip command as the package so pip takes the CPU wheel on disk
# instead of resolving a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e . torch==2.13.0
	touch $@

$(VENV)/.installed-test: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' torch==2.13.0
	touch $@ $(VENV)/.installed

clean-venv:
	rm -rf $(VENV)
