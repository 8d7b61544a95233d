"""rwr_policy_node on the real robot's interfaces, against a fake franka_ros2 (fake_franka.py) whose
franka_msgs / controller_manager_msgs types are built here with rosidl from the wheels.

The gripper gets Move/Grasp goals; after a reflex (the arm stops reporting: the test freezes the
simulated arm) the watchdog ends the run, and the next ~/start runs franka_hardware's recovery
sequence (ErrorRecovery, hardware component active, controller active) before moving again.
"""

from __future__ import annotations

import json
import signal
import sys

import pytest
from rosproc import ROOT, launch_plan, plan_specs, wait_until

FAKE = ROOT / "tests" / "ros" / "fake_franka.py"


def calls(node) -> list[dict]:
    return [json.loads(line) for line in node.log().splitlines() if line.startswith('{"call"')]


@pytest.mark.slow
def test_gripper_and_error_recovery_through_franka_interfaces(ros_with_franka, kitchen_policy, tmp_path):
    from geometry_msgs.msg import PoseStamped
    from std_msgs.msg import String
    from std_srvs.srv import Trigger

    ros = ros_with_franka
    checkpoint, weights, _demos = kitchen_policy
    site = tmp_path / "site.yaml"
    site.write_text("kitchen_sim:\n  ros__parameters:\n    image_size: 64\n")
    specs = plan_specs(
        "task",
        "slide_cabinet",
        policy=str(checkpoint),
        encoder_weights=str(weights),
        reward_node="false",
        params_file=str(site),
    )
    policy_spec = next(s for s in specs if getattr(s, "name", "") == "rwr_policy_node")
    kitchen = launch_plan(ros, [s for s in specs if s is not policy_spec])["kitchen_sim"]
    franka = ros.start("fake_franka", program=[sys.executable, str(FAKE), "--arm-pid", str(kitchen.proc.pid)])
    real_robot = {  # the node's defaults: franka_ros2's actions and controller manager
        "gripper_command_topic": "",
        "gripper_move_action": "/franka_gripper/move",
        "gripper_grasp_action": "/franka_gripper/grasp",
        "error_recovery_action": "/action_server/error_recovery",
        "hardware_component": "FrankaHardwareInterface",
        "controller": "cartesian_impedance_example_controller",
    }
    policy = ros.start(
        "rwr_policy_node",
        name="rwr_policy_node",
        parameters={**policy_spec.parameters, **real_robot},
        params_files=(str(site),),
    )
    probe = ros.probe
    commands = probe.collect(PoseStamped, "/kitchen/equilibrium_pose")
    status = probe.collect(String, "/vip/policy_status")
    franka.wait_for_log(r'"call": "ready"', 120)
    policy.wait_for_log(r"call ~/start to move", 180)

    def start():
        assert probe.call(Trigger, "/rwr_policy_node/start", Trigger.Request()).success

    start()
    wait_until(
        lambda: any(c["call"] in ("move", "grasp") for c in calls(franka)), 60, "a gripper goal", policy
    )
    goal = next(c for c in calls(franka) if c["call"] in ("move", "grasp"))
    assert 0.0 <= goal["width"] <= 0.08 and goal["speed"] == pytest.approx(0.05)

    wait_until(lambda: len(commands) > 10, 60, "the policy to move", policy)
    kitchen.signal(signal.SIGSTOP)  # a reflex: franka_ros2 stops publishing the arm state

    def last_stop_reason() -> str:
        return str(json.loads(status[-1][1].data).get("last_stop_reason")) if status else ""

    # the command path (state older than hardware.state_timeout_s) or the watchdog ends the run
    stale = ("robot error: robot state is", "watchdog: stale robot state")
    wait_until(lambda: last_stop_reason().startswith(stale), 30, "the run to end on the stale arm", policy)
    assert not any(c["call"] == "error_recovery" for c in calls(franka))
    n = len(commands)
    start()  # recovers first
    wait_until(lambda: len(commands) > n + 10, 60, "commands after recovery", policy, franka)
    sequence = [c["call"] for c in calls(franka) if c["call"] not in ("move", "grasp", "ready")]
    assert sequence == ["error_recovery", "set_hardware_component_state", "switch_controller"], calls(franka)
    hw = next(c for c in calls(franka) if c["call"] == "set_hardware_component_state")
    assert hw["name"] == "FrankaHardwareInterface" and hw["state"] == "active"
    switch = next(c for c in calls(franka) if c["call"] == "switch_controller")
    assert switch["activate"] == ["cartesian_impedance_example_controller"] and switch["activate_asap"]
    assert "robot recovered" in policy.log()
