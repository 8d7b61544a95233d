"""Launch descriptions from launch plans (``vip_bringup.plan``): the one module that imports ``launch``.

Every launch file calls one of the three functions at the bottom. Arguments are declared at the
top level with their descriptions (``ros2 launch vip_bringup <file> --show-args`` lists them);
the plan runs in an ``OpaqueFunction`` once their values are known, so a wrong task name, a bad
task config or a missing policy stops the launch with one clear message before any node starts.
"""

from __future__ import annotations

import os
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, LogInfo, OpaqueFunction, Shutdown
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from vip_bringup.plan import (
    PACKAGE,
    IncludeSpec,
    LogSpec,
    NodeSpec,
    Spec,
    known_tasks,
    launch_arguments,
    plan,
)
from vipflow.task_config import load_task_config


def _share() -> Path:
    return Path(get_package_share_directory(PACKAGE))


def _parameters(spec: NodeSpec) -> list:
    # launch_ros quotes plain strings, so a camera serial such as "123456" stays a string.
    # rcl's YAML parser rejects empty sequences; the nodes' defaults for those are [] anyway.
    values = {name: value for name, value in spec.parameters.items() if value != []}
    return [values, spec.params_file] if spec.params_file else [values]


def to_action(spec: Spec):
    if isinstance(spec, LogSpec):
        return LogInfo(msg=spec.message)
    if isinstance(spec, IncludeSpec):
        path = os.path.join(get_package_share_directory(spec.package), "launch", spec.launch_file)
        return IncludeLaunchDescription(
            PythonLaunchDescriptionSource(path), launch_arguments=list(spec.arguments.items())
        )
    kwargs = {
        "package": spec.package,
        "executable": spec.executable,
        "name": spec.name,
        "parameters": _parameters(spec),
        "arguments": list(spec.arguments),
        "remappings": list(spec.remappings),
        "output": "screen",
        "emulate_tty": True,
    }
    if spec.namespace:
        kwargs["namespace"] = spec.namespace
    if spec.prefix:
        kwargs["prefix"] = spec.prefix
    if spec.ends_launch:
        kwargs["on_exit"] = Shutdown(reason=f"{spec.name} finished")
    return Node(**kwargs)


def launch_description(kind: str, task: str | None = None) -> LaunchDescription:
    share = _share()
    config = (
        load_task_config(share / "config" / "tasks" / f"{task}.yaml", check_files=False) if task else None
    )
    args = launch_arguments(kind, config, known_tasks(share))
    declared = [
        DeclareLaunchArgument(
            a.name,
            description=a.description,
            **({} if a.default is None else {"default_value": a.default}),
            **({"choices": list(a.choices)} if a.choices else {}),
        )
        for a in args
    ]

    def build(context):
        values = {a.name: LaunchConfiguration(a.name).perform(context) for a in args}
        return [to_action(spec) for spec in plan(kind, values, share, task)]

    return LaunchDescription([*declared, OpaqueFunction(function=build)])


def task_launch_description(task: str) -> LaunchDescription:
    """``<task>.launch.py``: camera, arm, reward node and (with policy:=...) the policy node."""
    return launch_description("task", task)


def record_launch_description() -> LaunchDescription:
    """``record.launch.py task:=... num_episodes:=20``."""
    return launch_description("record")


def evaluate_launch_description() -> LaunchDescription:
    """``evaluate.launch.py policy:=... rollouts:=10``."""
    return launch_description("evaluate")
