"""The franky adapter: targets become preempting async motions, errors become named errors.

franky needs a robot (libfranka talks to the FCI), so a stand-in module with franky's Python
surface (``Robot``, ``Gripper``, ``Affine``, motions, ``ReferenceType``, exception classes) is
injected at the hardware boundary; it records what the adapter asked for.
"""

from __future__ import annotations

import sys
import types
from typing import ClassVar

import numpy as np
import pytest

from vipflow.hardware import HardwareError, Robot, RobotError, RobotTarget
from vipflow.hardware.franka import HOME_Q, forward_kinematics
from vipflow.hardware.franky import FrankyRobot, FrankyUnavailable


def fake_franky():
    fk = types.ModuleType("franky")

    class FrankyException(Exception):
        pass

    class NetworkException(FrankyException):
        pass

    class ControlException(FrankyException):
        pass

    class Affine:
        def __init__(self, translation=(0, 0, 0), quaternion=(0, 0, 0, 1)):
            self.translation = np.asarray(translation, float)
            self.quaternion = np.asarray(quaternion, float)

    class CartesianMotion:
        def __init__(self, target, reference):
            self.target, self.reference = target, reference

    class JointMotion:
        def __init__(self, q):
            self.q = np.asarray(q)

    class CartesianStopMotion:
        pass

    class JointStopMotion:
        pass

    class Robot:
        instances: ClassVar[list] = []

        def __init__(self, ip):
            self.ip, self.moves, self.recovered, self.relative_dynamics_factor = ip, [], 0, 1.0
            self.fail_next: Exception | None = None
            pose = forward_kinematics(HOME_Q)
            self.current_joint_state = types.SimpleNamespace(position=HOME_Q.copy(), velocity=np.zeros(7))
            self.current_cartesian_state = types.SimpleNamespace(
                pose=types.SimpleNamespace(end_effector_pose=Affine(pose[:3], pose[3:]))
            )
            Robot.instances.append(self)

        def recover_from_errors(self):
            self.recovered += 1

        def move(self, motion, asynchronous=False):
            if self.fail_next is not None:
                exc, self.fail_next = self.fail_next, None
                raise exc
            self.moves.append((motion, asynchronous))

        def join_motion(self):
            pass

    class Gripper:
        def __init__(self, ip):
            self.width, self.commands = 0.04, []

        def move_async(self, width, speed):
            self.commands.append((width, speed))

        def grasp_async(self, width, speed, force, epsilon_inner=0.005, epsilon_outer=0.005):
            self.commands.append(("grasp", width, speed, force, epsilon_outer))

    for obj in (Affine, CartesianMotion, JointMotion, CartesianStopMotion, JointStopMotion, Robot, Gripper,
                NetworkException, ControlException):
        setattr(fk, obj.__name__, obj)
    fk.Exception = FrankyException
    fk.ReferenceType = types.SimpleNamespace(Absolute="absolute", Relative="relative")
    return fk


@pytest.fixture
def franky(monkeypatch):
    fk = fake_franky()
    monkeypatch.setitem(sys.modules, "franky", fk)
    return fk


def test_missing_franky_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "franky", None)  # import franky -> ImportError
    with pytest.raises(FrankyUnavailable, match=r"pip install 'vipflow\[franka\]'"):
        FrankyRobot("172.16.0.2").start()


def test_targets_become_async_absolute_motions(franky):
    robot = FrankyRobot("172.16.0.2", relative_dynamics_factor=0.05, gripper_poll_s=0.01)
    assert isinstance(robot, Robot)
    robot.start()
    arm = franky.Robot.instances[-1]
    assert arm.recovered == 1 and arm.relative_dynamics_factor == 0.05
    state = robot.state()
    np.testing.assert_allclose(state.ee_pose, forward_kinematics(HOME_Q))
    assert state.gripper_width == pytest.approx(0.04)

    goal = state.ee_pose + np.r_[0.01, 0, 0, 0, 0, 0, 0]
    robot.send(RobotTarget(0.06, ee_pose=goal))
    motion, asynchronous = arm.moves[-1]
    assert asynchronous and motion.reference == "absolute"
    np.testing.assert_allclose(motion.target.translation, goal[:3])
    np.testing.assert_allclose(motion.target.quaternion, goal[3:])
    robot.send(RobotTarget(0.062, ee_pose=goal))  # within the gripper deadband: no new gripper move
    assert robot._gripper.commands == [(0.06, 0.05)]

    robot.send(RobotTarget(0.0, ee_pose=goal))  # below the measured 0.04 m: a grasp, with force
    assert robot._gripper.commands[-1] == ("grasp", 0.0, 0.05, 20.0, 0.08)

    with pytest.raises(RobotError, match="switching from ee to joint"):
        robot.send(RobotTarget(0.06, joint_pos=HOME_Q))
    robot.hold()
    assert isinstance(arm.moves[-1][0], franky.CartesianStopMotion)
    robot.stop()


def test_franky_exceptions_become_named_errors(franky):
    robot = FrankyRobot("172.16.0.2", gripper=False)
    robot.start()
    arm = franky.Robot.instances[-1]
    target = RobotTarget(0.04, joint_pos=HOME_Q)
    arm.fail_next = franky.ControlException("cartesian_reflex")
    with pytest.raises(RobotError, match="cartesian_reflex"):
        robot.send(target)
    arm.fail_next = franky.NetworkException("connection lost")
    with pytest.raises(HardwareError, match="network link") as info:
        robot.send(target)
    assert not isinstance(info.value, RobotError)
    robot.recover()
    assert arm.recovered == 2
