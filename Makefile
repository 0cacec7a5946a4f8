# Two entry points: `make demo` (set up, then run the default benchmark) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXPERIMENT ?= default
JOBS ?= 2

.PHONY: demo test install install-test clean-venv

demo: $(VENV)/.installed
	$(BIN)/enso run $(EXPERIMENT) --jobs $(JOBS)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

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
