"""The fakes must behave like the hardware they stand in for, or the fault tests prove nothing."""

from __future__ import annotations

import numpy as np
import pytest

from vipflow.hardware import Camera, CameraTimeout, HardwareError, Robot, RobotError, RobotTarget
from vipflow.hardware.fake import FakeCamera, FakeRobot, ManualClock
from vipflow.hardware.franka import HOME_Q, forward_kinematics


def test_fakes_implement_the_hardware_protocols():
    clock = ManualClock()
    assert isinstance(FakeCamera(clock), Camera)
    assert isinstance(FakeRobot(clock), Robot)


def test_camera_rate_latency_and_frame_drops():
    clock = ManualClock()
    cam = FakeCamera(clock, fps=30, latency_s=0.02, height=24, width=32)
    cam.start()
    first, second = cam.read(), cam.read()
    assert second.stamp_ns - first.stamp_ns == pytest.approx(1e9 / 30, abs=1)
    assert clock.now_ns() - second.stamp_ns == pytest.approx(0.02e9, abs=1)  # delivered after latency
    assert first.rgb.shape == (24, 32, 3) and first.rgb.dtype == np.uint8
    assert not np.array_equal(first.rgb, second.rgb)
    clock.advance(0.2)  # a slow reader gets the newest frame, not a backlog
    third = cam.read()
    assert third.stamp_ns - second.stamp_ns > 5 * 1e9 / 30


def test_camera_stall_times_out_then_resumes():
    clock = ManualClock()
    cam = FakeCamera(clock)
    cam.start()
    cam.read()
    cam.stall(0.3)
    t = clock.now_ns()
    with pytest.raises(CameraTimeout, match="no frame within"):
        cam.read(timeout_s=0.1)
    assert clock.now_ns() - t == pytest.approx(0.1e9, abs=1)  # read blocks for the timeout
    frame = cam.read(timeout_s=1.0)
    assert frame.stamp_ns >= t + 0.3e9 - 1e9 / 30


def test_camera_freeze_and_disconnect():
    clock = ManualClock()
    cam = FakeCamera(clock)
    with pytest.raises(HardwareError, match="start"):
        cam.read()
    cam.start()
    last = cam.read()
    cam.freeze()
    assert cam.read() is last and cam.read().stamp_ns == last.stamp_ns
    cam.disconnect()
    with pytest.raises(HardwareError, match="disconnected"):
        cam.read()


def test_robot_tracks_targets_with_lag_and_publishes_stamped_state():
    clock = ManualClock()
    robot = FakeRobot(clock, state_rate_hz=100, state_latency_s=0.004)
    robot.start()
    s0 = robot.state()
    np.testing.assert_allclose(s0.ee_pose, forward_kinematics(HOME_Q))
    assert (clock.now_ns() - s0.stamp_ns) >= 0.004e9 and s0.stamp_ns % 10_000_000 == 0
    goal = s0.ee_pose + np.array([0.03, -0.02, 0.01, 0, 0, 0, 0])
    robot.send(RobotTarget(gripper_width=0.06, ee_pose=goal))
    clock.advance(0.02)
    mid = robot.state()
    assert 0 < np.linalg.norm(mid.ee_pose[:3] - s0.ee_pose[:3]) < np.linalg.norm(goal[:3] - s0.ee_pose[:3])
    assert np.any(mid.joint_vel != 0)
    clock.advance(1.0)
    end = robot.state()
    np.testing.assert_allclose(end.ee_pose[:3], goal[:3], atol=1e-4)
    assert end.gripper_width == pytest.approx(0.06)


@pytest.mark.parametrize(
    ("target", "match"),
    [
        (lambda s: RobotTarget(0.04, joint_pos=np.r_[s.joint_pos[:3], 0.2, s.joint_pos[4:]]), "limits"),
        (lambda s: RobotTarget(0.04, joint_pos=s.joint_pos + 0.6), "discontinuity"),
        (lambda s: RobotTarget(0.04, ee_pose=s.ee_pose + np.r_[0.3, 0, 0, 0, 0, 0, 0]), "cartesian_reflex"),
        (lambda s: RobotTarget(0.04, joint_pos=np.full(7, np.nan)), "invalid"),
        (lambda s: RobotTarget(0.2, joint_pos=s.joint_pos), "gripper"),
    ],
)
def test_robot_reflexes_put_it_in_error_mode_until_recover(target, match):
    clock = ManualClock()
    robot = FakeRobot(clock)
    robot.start()
    state = robot.state()
    with pytest.raises(RobotError, match=match):
        robot.send(target(state))
    assert robot.in_error and not robot.commands
    with pytest.raises(RobotError, match="error mode"):
        robot.send(RobotTarget(0.04, joint_pos=state.joint_pos))
    robot.recover()
    robot.send(RobotTarget(0.04, joint_pos=state.joint_pos))
    assert robot.recoveries == 1 and len(robot.commands) == 1


def test_robot_injected_error_frozen_state_stall_and_disconnect():
    clock = ManualClock()
    robot = FakeRobot(clock)
    robot.start()
    s = robot.state()
    robot.inject_error("joint_reflex")
    with pytest.raises(RobotError, match="joint_reflex"):
        robot.send(RobotTarget(0.04, joint_pos=s.joint_pos))
    robot.recover()
    robot.freeze_state()
    clock.advance(0.5)
    assert robot.state().stamp_ns == robot.state().stamp_ns < clock.now_ns() - 0.4e9
    robot.unfreeze_state()
    robot.stall(0.25)
    t = clock.now_ns()
    robot.send(RobotTarget(0.04, joint_pos=s.joint_pos))
    assert clock.now_ns() - t == pytest.approx(0.25e9, abs=1)
    robot.disconnect()
    with pytest.raises(HardwareError, match="connection"):
        robot.state()
