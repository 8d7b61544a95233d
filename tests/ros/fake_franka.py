"""A fake of franka_ros2's gripper and error-recovery interfaces, run as its own process.

It serves what rwr_policy_node calls on the real robot, with the types built from
tests/ros/interfaces (franka_msgs, controller_manager_msgs): the gripper's Move and Grasp actions,
``/action_server/error_recovery`` and the controller manager's hardware-component and
controller-switch services. Like the hardware, recovering clears the fault: the arm state flows
again, here by resuming the process given by ``--arm-pid`` (the test stops it to play a reflex).
Every request is printed as one JSON line for the test to read.

    python fake_franka.py [--arm-pid PID]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys

import rclpy
from controller_manager_msgs.srv import SetHardwareComponentState, SwitchController
from franka_msgs.action import ErrorRecovery, Grasp, Move
from rclpy.action import ActionServer
from rclpy.node import Node


def say(kind: str, **fields) -> None:
    print(json.dumps({"call": kind, **fields}), flush=True)


class FakeFranka(Node):
    def __init__(self, arm_pid: int | None) -> None:
        super().__init__("fake_franka")
        self.arm_pid = arm_pid
        self.width = 0.04
        ActionServer(self, Move, "/franka_gripper/move", self._move)
        ActionServer(self, Grasp, "/franka_gripper/grasp", self._grasp)
        ActionServer(self, ErrorRecovery, "/action_server/error_recovery", self._recover)
        self.create_service(
            SetHardwareComponentState, "/controller_manager/set_hardware_component_state", self._hardware
        )
        self.create_service(SwitchController, "/controller_manager/switch_controller", self._switch)
        say("ready")

    def _move(self, handle):
        g = handle.request
        say("move", width=g.width, speed=g.speed)
        self.width = g.width
        handle.succeed()
        return Move.Result(success=True, error="")

    def _grasp(self, handle):
        g = handle.request
        say(
            "grasp", width=g.width, speed=g.speed, force=g.force, inner=g.epsilon.inner, outer=g.epsilon.outer
        )
        handle.succeed()
        return Grasp.Result(success=True, error="")

    def _recover(self, handle):
        say("error_recovery")
        if self.arm_pid:
            os.kill(self.arm_pid, signal.SIGCONT)  # the fault is cleared: the arm reports again
        handle.succeed()
        return ErrorRecovery.Result()

    def _hardware(self, request, response):
        say("set_hardware_component_state", name=request.name, state=request.target_state.label)
        response.ok = True
        response.state = request.target_state
        return response

    def _switch(self, request, response):
        say(
            "switch_controller",
            activate=list(request.activate_controllers),
            strictness=request.strictness,
            activate_asap=request.activate_asap,
        )
        response.ok = True
        return response


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arm-pid", type=int)
    args, _ros_args = parser.parse_known_args(argv)
    rclpy.init()
    node = FakeFranka(args.arm_pid)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
