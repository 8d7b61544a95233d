# Fresh-machine entry points (see README): `make demo` sets up and runs the simulated workflow,
# `make test` sets up and runs the test suite. Both create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.vipflow-installed
DEMO_ARGS ?=

.PHONY: setup demo test lint bench sim-deps
setup: sim-deps $(STAMP)

# Headless MuJoCo rendering for the simulator (vipflow demo, tests/sim): EGL with Mesa's
# software driver. Installed with apt-get only when libEGL or Mesa's EGL driver is missing.
SIM_DEBS := libegl1 libegl-mesa0 libgl1-mesa-dri libgl1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
sim-deps:
	@if ! ldconfig -p | grep -q 'libEGL.so.1 ' || ! ldconfig -p | grep -q libEGL_mesa; then \
	  if command -v apt-get >/dev/null; then \
	    echo "installing $(SIM_DEBS) for headless rendering"; \
	    $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends $(SIM_DEBS); \
	  else echo "warning: install EGL and Mesa (libEGL.so.1, libEGL_mesa) for the simulator"; fi; \
	fi

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
