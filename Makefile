# Two commands for a fresh machine: `make run` and `make test`.
# Each builds .venv from requirements.lock first if it is missing.
SHELL := /bin/bash
VENV ?= .venv
AIRFLOW_VENV ?= .venv-airflow
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: run test test-fast lint docs venv airflow-venv lock bench clean

run: $(VENV)/.installed
	$(VENV)/bin/sluice run $(ARGS)

# The tiers run on every core (up to 4: an end-to-end test holds ~1.5 GB); one test file
# stays on one worker, so a file's shared pipeline run is made once per worker; files
# are handed out in collection order, which conftest.py sorts slowest tier first.
PARALLEL ?= -n auto --maxprocesses=4 --dist loadfile --no-loadscope-reorder

test: $(VENV)/.installed $(AIRFLOW_VENV)/.installed lint
	$(PY) -m pytest -q $(PARALLEL) tests $(ARGS)

test-fast: $(VENV)/.installed lint
	$(PY) -m pytest -q $(PARALLEL) -m "not e2e" tests $(ARGS)

# ruff (pyflakes, syntax, import order), the layering contracts in pyproject.toml, and
# the docs built in strict mode (a broken link or a page missing from the nav fails)
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check -q .
	$(VENV)/bin/lint-imports --no-cache > /dev/null || $(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mkdocs build --strict 2>&1 | grep -v '^INFO'; exit $${PIPESTATUS[0]}

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml scripts/make_venv.sh
	bash scripts/make_venv.sh $(VENV)
	touch $@

airflow-venv: $(AIRFLOW_VENV)/.installed

$(AIRFLOW_VENV)/.installed: $(VENV)/.installed requirements-airflow.lock scripts/make_airflow_venv.sh
	bash scripts/make_airflow_venv.sh $(AIRFLOW_VENV)
	touch $@

lock:
	uv pip compile requirements.in -o requirements.lock --python "$$(bash scripts/find_python.sh)"
	uv pip compile requirements-airflow.in --universal --python-version 3.10 -o requirements-airflow.lock

bench: $(VENV)/.installed
	$(PY) bench/pipeline_vs_tfx.py

clean:
	rm -rf sluice_home
