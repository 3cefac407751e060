# Two commands for a fresh machine: `make run` and `make test`.
# Each builds .venv from requirements.lock first if it is missing.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: run test test-fast venv lock bench clean

run: $(VENV)/.installed
	$(VENV)/bin/sluice run $(ARGS)

test: $(VENV)/.installed
	$(PY) -m pytest -q tests $(ARGS)

test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow" tests $(ARGS)

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml scripts/make_venv.sh
	bash scripts/make_venv.sh $(VENV)
	touch $@

lock:
	uv pip compile requirements.in -o requirements.lock --python "$$(bash scripts/find_python.sh)"

bench: $(VENV)/.installed
	$(PY) bench/pipeline_vs_tfx.py

clean:
	rm -rf sluice_home
