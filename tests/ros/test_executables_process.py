"""Every executable of every package's setup.py, started as ``ros2 run`` starts it: it reaches
spinning, or exits 1 with its documented one-line error (labelled with the node's name) for
hardware it cannot reach. Also: parameter values on the command line, and the real robot's
interfaces chosen where franka_msgs is not installed.
"""

from __future__ import annotations

import re
import sys

import pytest
from rosproc import ROOT

sys.path.insert(0, str(ROOT / "tests" / "ros_static"))
from package_info import PACKAGES, console_scripts

SIM_POLICY = {  # what the slide_cabinet plan gives the policy node (kitchen topics, no franka_msgs)
    "hardware.image_topic": "/kitchen/camera/image_raw",
    "hardware.joint_states_topic": "/kitchen/joint_states",
    "hardware.ee_pose_topic": "/kitchen/ee_pose",
    "hardware.gripper_topic": "/kitchen/gripper/joint_states",
    "hardware.base_frame": "world",
    "command_topic": "/kitchen/equilibrium_pose",
    "gripper_command_topic": "/kitchen/gripper_command",
    "gripper_move_action": "",
    "gripper_grasp_action": "",
    "error_recovery_action": "",
    "hardware_component": "",
    "controller": "",
}
ONE_LINE_ERROR = r"^(\[INFO\] \[[\d.]+\] )?\[{name}\]:? error: [^\n]*{needle}[^\n]*$"


def exits_with(node, needle: str, timeout_s: float = 120) -> None:
    """Exit status 1 with one error line naming the node and ``needle``; no traceback."""
    assert node.wait(timeout_s) == 1, node.log()
    log = node.log()
    assert re.search(ONE_LINE_ERROR.format(name=re.escape(node.name), needle=needle), log, re.M), log
    assert "Traceback" not in log, log


def test_the_executables_are_these():
    names = {exe for pkg in PACKAGES for exe in console_scripts(pkg)}
    assert names == {
        "vip_reward_node",
        "demo_recorder",
        "camera",
        "keys",
        "rwr_policy_node",
        "evaluate",
        "train",
        "kitchen_sim",
    }


@pytest.mark.slow
def test_every_executable_starts_or_names_what_it_cannot_reach(ros, encoder_file, kitchen_policy, tmp_path):
    weights, _encoder = encoder_file
    checkpoint, kitchen_weights, _demos = kitchen_policy
    n = {}
    n["kitchen_sim"] = ros.start("kitchen_sim", parameters={"image_size": 64})
    n["vip_reward_node"] = ros.start(
        "vip_reward_node", parameters={"encoder_arch": "convnet-small", "encoder_weights": str(weights)}
    )
    n["rwr_policy_node"] = ros.start(  # `-p rate_hz:=25`: an integer for a number is fine
        "rwr_policy_node",
        parameters={**SIM_POLICY, "policy": str(checkpoint), "encoder_weights": str(kitchen_weights)},
        ros_args=("-p", "rate_hz:=25"),
    )
    errors = {
        "demo_recorder": ros.start(
            "demo_recorder", parameters={"dataset": str(tmp_path / "d"), "hardware.start_timeout_s": 2.0}
        ),
        "camera": ros.start("camera"),
        "keys": ros.start("keys"),
        "rwr_policy_node": ros.start("rwr_policy_node", log_as="rwr_policy_node_defaults"),
        "evaluate": ros.start("evaluate"),
        "train": ros.start("train"),
        "rate_as_text": ros.start(
            "rwr_policy_node",
            log_as="policy_text_rate",
            parameters={
                **SIM_POLICY,
                "policy": str(checkpoint),
                "encoder_weights": str(kitchen_weights),
                "rate_hz": "fast",
            },
        ),
        "franka_path": ros.start(  # the real robot's gripper, without franka_msgs installed
            "rwr_policy_node",
            log_as="policy_franka",
            parameters={
                **SIM_POLICY,
                "policy": str(checkpoint),
                "encoder_weights": str(kitchen_weights),
                "gripper_command_topic": "",
                "gripper_move_action": "/franka_gripper/move",
                "gripper_grasp_action": "/franka_gripper/grasp",
            },
        ),
    }
    # spinning: each says so once it is up
    n["kitchen_sim"].wait_for_log(r"kitchen slide_cabinet at 25 Hz", 180)
    n["vip_reward_node"].wait_for_log(r"-> /vip/embedding, /vip/reward", 180)
    n["rwr_policy_node"].wait_for_log(r"call ~/start to move", 180)
    # the documented one-line errors
    exits_with(
        errors["demo_recorder"], r"no robot state on \['joint_states', 'ee_pose', 'gripper'\] after 2 s"
    )
    exits_with(errors["camera"], "pyrealsense2 is not installed")
    assert errors["keys"].wait(60) == 1 and "keys: " in errors["keys"].log(), errors["keys"].log()
    exits_with(errors["rwr_policy_node"], "parameter 'policy' is empty")
    exits_with(errors["evaluate"], "parameter 'policy' is empty")
    # `vipflow train`'s own error for what it lacks (here: encoder weights), without a traceback
    assert errors["train"].wait(120) == 2, errors["train"].log()
    assert errors["train"].log().startswith("error: no weights given"), errors["train"].log()
    exits_with(errors["rate_as_text"], r"rate_hz: expected a number, got 'fast'")
    exits_with(
        errors["franka_path"], r"gripper_move_action:=/franka_gripper/move needs the ROS package franka_msgs"
    )
    assert "docker image" in errors["franka_path"].log()
    assert "InvalidParameterTypeException" not in n["rwr_policy_node"].log()
    for node in n.values():
        assert node.proc.poll() is None, node.log()
