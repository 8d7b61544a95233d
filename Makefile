# Fresh-machine entry points (see README): `make demo` sets up and runs the simulated workflow,
# `make test` sets up and runs the test suite. Both create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.vipflow-installed
DEMO_ARGS ?=

.PHONY: setup demo test lint bench
setup: $(STAMP)

$(STAMP): src/vipflow/pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install -e "src/vipflow[sim,dev]"
	touch $(STAMP)

demo: setup
	$(VENV)/bin/vipflow demo $(DEMO_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

test: lint
	$(VENV)/bin/pytest
