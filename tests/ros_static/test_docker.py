"""The docker image, compose file and colcon.meta, checked statically (no docker engine here).

What can be checked without building: every file the Dockerfile copies exists and is not
ignored, the base image and the pieces the ROS path needs are there, the compose service has
host networking, device access and real-time limits, and colcon.meta is valid and names real
packages with options their tools accept.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DOCKERFILE = (DOCKER / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def _ignored(rel: str) -> bool:
    """Docker's ignore semantics, enough for our patterns: ``**/`` matches zero or more directories,
    and an ignored directory ignores everything below it."""
    patterns = [p.strip() for p in (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()]
    patterns = [p for p in patterns if p and not p.startswith("#")]
    candidates = [c for p in patterns for c in ([p, p[3:]] if p.startswith("**/") else [p])]
    parts = Path(rel).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    tails = ["/".join(parts[i:]) for i in range(len(parts))]
    return any(fnmatch.fnmatch(x, c) for c in candidates for x in prefixes + tails)


def test_base_image_is_ros_jazzy():
    ops = _instructions()
    assert ("ARG", "ROS_DISTRO=jazzy") in ops
    assert any(op == "FROM" and rest.startswith("ros:${ROS_DISTRO}-ros-base") for op, rest in ops)


def test_the_image_carries_realsense_franka_torch_vipflow_and_the_workspace():
    runs = " ".join(rest for op, rest in _instructions() if op == "RUN")
    assert "ros-${ROS_DISTRO}-realsense2-camera" in runs
    assert "github.com/frankarobotics/franka_ros2.git" in runs and "dependency.repos" in runs
    assert '--index-url "${TORCH_INDEX_URL}" torch torchvision' in runs
    assert "download.pytorch.org/whl/cu" in DOCKERFILE  # a CUDA build of torch
    assert "numpy<2" in DOCKERFILE  # ROS Jazzy's extensions are built against NumPy 1
    assert '"/ws/src/vipflow[sim,realsense,dev]"' in runs  # dev: pytest-timeout for colcon.meta
    assert "colcon build --base-paths src" in runs
    assert '--skip-keys="franka_msgs franka_bringup franka_example_controllers"' in runs


def test_copied_files_exist_and_are_not_ignored():
    for op, rest in _instructions():
        if op != "COPY":
            continue
        src = rest.split()[0]
        assert (ROOT / src).exists(), f"COPY {src}: missing"
        if src != ".":
            assert not _ignored(src), f"COPY {src} is excluded by Dockerfile.dockerignore"
    for needed in (
        "launch/record.launch.py",
        "config/tasks/fold_towel.yaml",
        "src/vip_bringup/setup.py",
        "colcon.meta",
        "src/vipflow/pyproject.toml",
    ):
        assert not _ignored(needed), needed
    for junk in (".venv", "build", "install", "src/vipflow/vipflow.egg-info", "data"):
        assert _ignored(junk), f"{junk} would be sent to the docker daemon"
    assert os.access(DOCKER / "entrypoint.sh", os.X_OK)


def test_compose_service_has_host_network_devices_and_realtime_limits():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    vip = compose["services"]["vip"]
    assert vip["build"]["context"] == ".." and (DOCKER / ".." / vip["build"]["dockerfile"]).is_file()
    assert vip["network_mode"] == "host" and vip["ipc"] == "host"
    assert vip["ulimits"]["rtprio"] == 99 and vip["ulimits"]["memlock"] == -1
    assert "SYS_NICE" in vip["cap_add"]
    assert "/dev:/dev" in vip["volumes"]
    assert {"c 81:* rmw", "c 189:* rmw"} <= set(vip["device_cgroup_rules"])  # RealSense: video4linux, USB
    assert any(v.endswith(":/root/vipflow_data") for v in vip["volumes"])  # the task configs' dataset root
    gpu = compose["services"]["vip-gpu"]
    assert gpu["extends"]["service"] == "vip"
    devices = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert devices["driver"] == "nvidia" and devices["capabilities"] == ["gpu"]


def test_colcon_meta_is_valid_and_names_real_packages():
    meta = json.loads((ROOT / "colcon.meta").read_text())
    names = meta["names"]
    ours = {"vip_reward_node", "demo_recorder", "rwr_policy_node", "vip_bringup"}
    assert ours <= set(names)
    for pkg in ours:
        assert (ROOT / "src" / pkg / "package.xml").is_file()
        assert "--timeout=600" in names[pkg]["pytest-args"]
    pyproject = (ROOT / "src" / "vipflow" / "pyproject.toml").read_text()
    assert re.search(r'^dev = \[.*"pytest-timeout', pyproject, re.M)  # the plugin --timeout needs
    for pkg, options in names.items():
        assert set(options) <= {"cmake-args", "pytest-args"}, f"{pkg}: unexpected colcon options {options}"
        for arg in options.get("cmake-args", []):
            assert re.fullmatch(r"-D[A-Z_]+=\w+", arg), arg
