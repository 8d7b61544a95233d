"""The kitchen_sim node's work without rclpy, on the real simulator: topics out, targets in."""

from __future__ import annotations

import time

import numpy as np
import pytest

from vip_bringup.kitchen_bridge import KitchenBridge
from vip_bringup.kitchen_params import KitchenSimParams
from vipflow.episodes import messages as m
from vipflow.ros.names import SIM_WORLD_FRAME as WORLD_FRAME
from vipflow.ros.topic_hardware import (
    FRANKA_FINGER_JOINTS,
    MSG_BOOL,
    decode_rgb,
    float64_cdr,
    gripper_width_from_joints,
    joint_vector,
    pose_cdr,
    pose_vector,
    string_cdr,
)

P = KitchenSimParams(task="slide_cabinet", image_size=48)


def decode(out: dict[str, bytes], p: KitchenSimParams = P):
    return {
        "image": decode_rgb(m.deserialize(out[p.image_topic], m.MSG_IMAGE)),
        "q": joint_vector(m.deserialize(out[p.joint_states_topic], m.MSG_JOINTS), m.DEFAULT_JOINT_NAMES)[0],
        "pose_msg": m.deserialize(out[p.ee_pose_topic], m.MSG_POSE),
        "gripper": gripper_width_from_joints(
            m.deserialize(out[p.gripper_topic], m.MSG_JOINTS), FRANKA_FINGER_JOINTS
        ),
        "success": bool(m.deserialize(out[p.success_topic], MSG_BOOL).data),
    }


@pytest.fixture(scope="module")
def bridge():
    b = KitchenBridge(P)
    yield b
    b.close()


def test_every_tick_publishes_camera_arm_gripper_and_success(bridge):
    out, note = bridge.tick()
    assert set(out) == {
        P.image_topic,
        P.joint_states_topic,
        P.ee_pose_topic,
        P.gripper_topic,
        P.success_topic,
    }
    d = decode(out)
    assert d["image"].shape == (48, 48, 3) and d["image"].std() > 0
    assert d["q"].shape == (7,) and np.isfinite(d["q"]).all()
    assert d["pose_msg"].header.frame_id == WORLD_FRAME
    assert 0.0 <= d["gripper"] <= 0.08 and d["success"] is False and note is None
    stamp = m.stamp_of(d["pose_msg"])
    assert abs(stamp - time.time_ns()) < 1e9  # stamped in ROS (wall) time


def test_pose_targets_move_the_arm_and_it_holds_when_they_stop(bridge):
    start = pose_vector(decode(bridge.tick()[0])["pose_msg"])
    target = start + np.array([0.03, 0, 0, 0, 0, 0, 0])
    for _ in range(20):
        bridge.on_pose_command(pose_cdr(target, time.time_ns(), WORLD_FRAME))
        bridge.on_gripper_command(float64_cdr(0.0))
        out, _ = bridge.tick()
    moved = pose_vector(decode(out)["pose_msg"])
    assert moved[0] - start[0] > 0.01  # toward the target (the servos lag, as on the real arm)
    assert decode(out)["gripper"] < 0.07  # the fingers closed toward the 0 m width target
    time.sleep(P.command_timeout_s + 0.1)  # targets stop arriving
    held = [pose_vector(decode(bridge.tick()[0])["pose_msg"])[:3] for _ in range(10)]
    drift = np.linalg.norm(held[-1] - held[2])
    assert drift < 0.01, f"the arm kept moving {drift:.3f} m without targets"


def test_expert_mode_restarts_the_demo_on_the_recorders_start_key():
    params = KitchenSimParams(task="slide_cabinet", image_size=32, expert=True, expert_horizon=50)
    b = KitchenBridge(params)
    try:
        still = pose_vector(decode(b.tick()[0], params)["pose_msg"])
        for _ in range(25):  # the hand waits for the operator's first start key
            out, _ = b.tick()
        assert np.linalg.norm(pose_vector(decode(out, params)["pose_msg"])[:3] - still[:3]) < 0.005
        b.on_key(string_cdr("s"))  # not a start key
        assert b.resets == 0
        b.on_key(string_cdr("space"))
        assert b.resets == 1
        first = pose_vector(decode(b.tick()[0], params)["pose_msg"])
        for _ in range(25):
            out, _ = b.tick()
        assert (
            np.linalg.norm(pose_vector(decode(out, params)["pose_msg"])[:3] - first[:3]) > 0.02
        )  # the hand moved
    finally:
        b.close()
