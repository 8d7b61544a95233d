"""docs/ros.md is true to the code: every command it shows exists, every argument it passes is
declared, and every node parameter and launch argument is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from package_info import PACKAGES, console_scripts

from demo_recorder.params import CameraNodeParams, KeysNodeParams, RecorderNodeParams
from rwr_policy_node.params import EvaluateNodeParams, PolicyNodeParams
from vip_bringup.kitchen_params import KitchenSimParams
from vip_bringup.plan import known_tasks, launch_arguments
from vip_reward_node.params import RewardNodeParams
from vipflow.config_schema import param_specs
from vipflow.task_config import TaskConfig, load_task_config

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "ros.md").read_text()
TASKS = known_tasks(ROOT)


def _commands(prefix: str) -> list[str]:
    text = re.sub(r"\\\n\s*", " ", DOC)
    return [line.strip() for line in text.splitlines() if line.strip().startswith(prefix)]


def test_ros2_run_commands_name_real_executables():
    runs = _commands("ros2 run ")
    assert runs
    for cmd in runs:
        _, _, pkg, exe, *_ = cmd.split()
        assert pkg in PACKAGES and exe in console_scripts(pkg), cmd


def test_ros2_launch_commands_use_real_files_and_declared_arguments():
    launches = _commands("ros2 launch vip_bringup ")
    assert len(launches) >= 6
    for cmd in launches:
        name = cmd.split()[3]
        assert (ROOT / "launch" / name).is_file(), cmd
        stem = name.removesuffix(".launch.py")
        kind = stem if stem in ("record", "evaluate") else "task"
        config = load_task_config(ROOT / "config" / "tasks" / f"{stem}.yaml") if kind == "task" else None
        declared = {a.name for a in launch_arguments(kind, config, TASKS)}
        used = set(re.findall(r"(\w+):=", cmd))
        assert used <= declared, f"{cmd}: undeclared {used - declared}"
        task = dict(re.findall(r"(\w+):=(\S+)", cmd)).get("task")
        assert task is None or task in TASKS


@pytest.mark.parametrize(
    "schema",
    [
        RewardNodeParams,
        RecorderNodeParams,
        CameraNodeParams,
        KeysNodeParams,
        PolicyNodeParams,
        EvaluateNodeParams,
        KitchenSimParams,
        TaskConfig,
    ],
)
def test_every_parameter_and_config_key_is_documented(schema):
    for spec in param_specs(schema):
        prefix = spec.name.split(".")[0]
        documented = f"`{spec.name}`" in DOC or (prefix in ("hardware", "safety") and f"`{prefix}.*`" in DOC)
        assert documented, f"{schema.__name__}: {spec.name} is not in docs/ros.md"


def test_every_launch_argument_is_documented():
    for kind in ("task", "record", "evaluate"):
        for config in (None, load_task_config(ROOT / "config" / "tasks" / "fold_towel.yaml")):
            for arg in launch_arguments(kind, config, TASKS):
                assert f"| `{arg.name}` |" in DOC, f"launch argument {arg.name} is not documented"
