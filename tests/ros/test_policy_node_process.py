"""slide_cabinet.launch.py's plan with a policy trained here: kitchen_sim, vip_reward_node and
rwr_policy_node as processes over DDS.

~/start -> pose commands at 25 Hz in the kitchen's frame until the cabinet is open; ~/stop -> no
further commands; a camera dropout -> holds that say why, then the watchdog ends the run;
SIGINT and SIGTERM -> the last hold and the final status go out, exit status 0.
"""

from __future__ import annotations

import json
import signal
import time

import numpy as np
import pytest
from rosproc import launch_plan, plan_specs, wait_until

START_TIMEOUT_S = 180  # torch, the encoder and MuJoCo load first, on a shared 2-core machine


def pose_of(msg) -> tuple:
    p, q = msg.pose.position, msg.pose.orientation
    return (p.x, p.y, p.z, q.x, q.y, q.z, q.w)


def statuses(got: list) -> list[dict]:
    return [json.loads(m.data) for _, m in got]


def set_camera(probe, on: bool) -> None:
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    value = ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=on)
    req = SetParameters.Request(parameters=[Parameter(name="publish_camera", value=value)])
    assert probe.call(SetParameters, "/kitchen_sim/set_parameters", req).results[0].successful


def trigger(probe, name: str):
    from std_srvs.srv import Trigger

    return probe.call(Trigger, name, Trigger.Request())


def assert_closes_with_hold_and_status(node, sig, commands, poses, status) -> None:
    """Send ``sig`` to a moving policy node: exit 0, a hold (= a measured pose) last, final status."""
    n = len(commands)
    wait_until(lambda: len(commands) >= n + 10, 30, "moving commands", node)
    node.signal(sig)
    assert node.wait(30) == 0, node.log()
    time.sleep(0.5)
    last = pose_of(commands[-1][1])
    recent = {pose_of(m) for t, m in poses if t > commands[-1][0] - 500_000_000}
    assert last in recent, "the last command is not a hold at a measured pose"
    final = statuses(status)
    assert final[-1]["state"] == "shutdown", final[-3:]
    assert final[-2]["state"] == "idle" and final[-2]["last_stop_reason"] == "node shutting down", final[-3:]
    log = node.log()
    assert "Traceback" not in log and "context is invalid" not in log, log


@pytest.mark.slow
def test_policy_node_drives_the_simulated_kitchen(ros, kitchen_policy, tmp_path):
    from geometry_msgs.msg import PoseStamped
    from rclpy.qos import qos_profile_sensor_data
    from std_msgs.msg import Bool, Float32MultiArray, String

    checkpoint, weights, _demos = kitchen_policy
    small = tmp_path / "site.yaml"  # the user's params_file:=, here: small camera images
    small.write_text("kitchen_sim:\n  ros__parameters:\n    image_size: 64\n")
    specs = plan_specs(
        "task", "slide_cabinet", policy=str(checkpoint), encoder_weights=str(weights), params_file=str(small)
    )
    nodes = launch_plan(ros, specs)
    assert set(nodes) == {"kitchen_sim", "vip_reward_node", "rwr_policy_node"}
    probe = ros.probe
    commands = probe.collect(PoseStamped, "/kitchen/equilibrium_pose")
    status = probe.collect(String, "/vip/policy_status")
    success = probe.collect(Bool, "/kitchen/success")
    poses = probe.collect(PoseStamped, "/kitchen/ee_pose", qos_profile_sensor_data)
    embeddings = probe.collect(Float32MultiArray, "/vip/embedding")
    policy = nodes["rwr_policy_node"]
    policy.wait_for_log(r"call ~/start to move", START_TIMEOUT_S)
    wait_until(lambda: len(embeddings) >= 5, START_TIMEOUT_S, "the reward node's embeddings", *nodes.values())

    # ~/start: 25 Hz commands in the kitchen's world frame until the cabinet is open.
    started = time.monotonic_ns()
    assert trigger(probe, "/rwr_policy_node/start").success
    wait_until(lambda: any(m.data for t, m in success if t > started), 60, "the cabinet to open", policy)
    run = [(t, m) for t, m in commands if t > started]
    assert {m.header.frame_id for _, m in run} == {"world"}
    periods = np.diff([m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for _, m in run])
    assert len(run) > 20 and abs(np.median(periods) - 0.04) < 0.004, np.percentile(periods, [5, 50, 95])

    # ~/stop: the arm holds, nothing follows.
    assert trigger(probe, "/rwr_policy_node/stop").success
    wait_until(lambda: statuses(status)[-1].get("state") == "idle", 10, "the final status", policy)
    assert statuses(status)[-1]["last_stop_reason"] == "~/stop service"
    time.sleep(0.3)
    n = len(commands)
    time.sleep(1.0)
    assert len(commands) == n, "commands after ~/stop"

    # A camera dropout: the ticks hold and say why; the watchdog then ends the run.
    assert trigger(probe, "/rwr_policy_node/start").success
    wait_until(lambda: len(commands) >= n + 5, 20, "commands", policy)
    set_camera(probe, False)
    wait_until(
        lambda: any(str(s.get("hold_reason")).startswith("stale observation") for s in statuses(status)),
        10,
        "a hold for the stale camera",
        policy,
    )
    wait_until(
        lambda: str(statuses(status)[-1].get("last_stop_reason")).startswith("watchdog: stale observation"),
        10,
        "the watchdog's stop",
        policy,
    )
    set_camera(probe, True)

    # SIGINT while moving.
    assert trigger(probe, "/rwr_policy_node/start").success
    assert_closes_with_hold_and_status(policy, signal.SIGINT, commands, poses, status)

    # SIGTERM while moving (a fresh node from the same plan entry).
    spec = next(s for s in specs if getattr(s, "name", "") == "rwr_policy_node")
    policy = ros.start(
        spec.executable, name=spec.name, parameters=spec.parameters, params_files=(str(small),)
    )
    policy.wait_for_log(r"call ~/start to move", START_TIMEOUT_S)
    assert trigger(probe, "/rwr_policy_node/start").success
    assert_closes_with_hold_and_status(policy, signal.SIGTERM, commands, poses, status)
