"""Every installed launch file builds a launch description whose declared arguments (what
``ros2 launch ... --show-args`` lists) are exactly the plan's, with their descriptions.

Needs ROS 2's ``launch`` and the installed vip_bringup share directory (``colcon test`` in the
docker image); elsewhere pytest collects this file and skips it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from vipflow.ros.testing import require_launch_testing

require_launch_testing()

import ament_index_python.packages as ament  # noqa: E402
from launch.actions import DeclareLaunchArgument  # noqa: E402

from vip_bringup.plan import known_tasks, launch_arguments  # noqa: E402
from vipflow.task_config import load_task_config  # noqa: E402

SHARE = Path(ament.get_package_share_directory("vip_bringup"))
LAUNCH_FILES = sorted((SHARE / "launch").glob("*.launch.py"))


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_declared_arguments_match_the_plan(path):
    spec = importlib.util.spec_from_file_location(path.stem.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    declared = {a.name: a for a in description.entities if isinstance(a, DeclareLaunchArgument)}
    name = path.name.removesuffix(".launch.py")
    kind = name if name in ("record", "evaluate") else "task"
    config = load_task_config(SHARE / "config" / "tasks" / f"{name}.yaml") if kind == "task" else None
    expected = launch_arguments(kind, config, known_tasks(SHARE))
    assert list(declared) == [a.name for a in expected]
    for arg in expected:
        assert declared[arg.name].description == arg.description
        default = declared[arg.name].default_value
        if arg.default is None:
            assert default is None  # required
        else:
            assert default is not None and "".join(s.text for s in default) == arg.default


def test_the_installed_share_holds_configs_and_controllers():
    assert {p.stem for p in (SHARE / "config" / "tasks").glob("*.yaml")} == set(known_tasks(SHARE))
    assert (SHARE / "config" / "franka_controllers.yaml").is_file()
    assert (SHARE / "config" / "safety_default.yaml").is_file()
