# Fresh-machine entry points (see README): `make demo` sets up and runs the simulated workflow,
# `make test` sets up and runs the test suite. Both create .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.vipflow-installed
DEMO_ARGS ?=

.PHONY: setup demo test lint bench sim-deps ros-deps ros-workspace
setup: sim-deps ros-deps $(STAMP) ros-workspace

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

# Interface packages (the tests' franka_msgs / controller_manager_msgs) build with CMake against
# the ROS 2 wheels: cmake, a C/C++ compiler and the Python headers.
ros-deps:
	@if ! command -v cmake >/dev/null || ! command -v g++ >/dev/null || \
	   ! [ -f "$$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ]; then \
	  if command -v apt-get >/dev/null; then \
	    echo "installing cmake g++ python3-dev for ROS interface packages"; \
	    $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends cmake g++ python3-dev; \
	  else echo "warning: install cmake, g++ and the Python headers for the ROS process tests"; fi; \
	fi

$(STAMP): src/vipflow/pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install -e "src/vipflow[sim,dev,ros,ros-build]"
	touch $(STAMP)

# ROS 2 without a ROS install (docs/ros.md): our four packages pip-installed into a prefix (share
# files, ament index, executables) and the test interface packages built with CMake; both are
# redone only when their sources change. The process tests (tests/ros) use these prefixes.
ROS_PREFIX := .rosinstall
ROS_PACKAGES := src/vip_reward_node src/demo_recorder src/rwr_policy_node src/vip_bringup
ROS_TEST_INTERFACES := tests/ros/interfaces/franka_msgs tests/ros/interfaces/controller_manager_msgs
ros-workspace: $(STAMP)
	$(PY) -m vipflow.ros.workspace --prefix $(ROS_PREFIX)/interfaces --interfaces $(ROS_TEST_INTERFACES)
	$(PY) -m vipflow.ros.workspace --prefix $(ROS_PREFIX)/packages --packages $(ROS_PACKAGES)

demo: setup
	$(VENV)/bin/vipflow demo $(DEMO_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

test: lint
	$(VENV)/bin/pytest
