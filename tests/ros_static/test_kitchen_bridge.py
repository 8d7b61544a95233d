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


def test_expert_mode_starts_each_demo_on_the_start_key_in_a_new_scene():
    params = KitchenSimParams(task="slide_cabinet", image_size=32, expert=True, expert_horizon=50)
    b = KitchenBridge(params)

    def position() -> np.ndarray:
        return pose_vector(decode(b.tick()[0], params)["pose_msg"])[:3]

    def moves(ticks: int = 25) -> float:
        first = position()
        for _ in range(ticks - 1):
            last = position()
        return float(np.linalg.norm(last - first))

    try:
        assert moves() < 0.005  # the hand waits for the operator's first start key
        b.on_key(string_cdr("s"))  # not a start key
        assert moves() < 0.005
        b.on_key(string_cdr("space"))
        assert b.resets == 0 and moves() > 0.02  # the first scene was untouched: no reset, the hand moves
        b.on_key(string_cdr("space"))  # the keys tool alone: the used scene is replaced on the key
        assert b.resets == 1 and moves() > 0.02
        b.reset()  # what the recorder's reset_service call does before it asks for the key
        assert b.resets == 2 and moves() < 0.005  # a new scene, the hand still
        b.on_key(string_cdr("enter"))
        assert b.resets == 2 and moves() > 0.02  # the prepared scene: the key only starts the hand
    finally:
        b.close()
