"""Where rollouts run: a robot + camera + clock, and how a rollout is reset and judged.

``HardwareBackend`` wraps any Camera/Robot pair (franky + RealSense, the ROS node's topic
adapters, the fakes): an operator resets the scene and judges success, perception runs in its
own thread on the monotonic clock. ``SimBackend`` (in :mod:`vipflow.evaluation.sim_backend`) resets
and judges itself and runs on the physics clock.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

import numpy as np

from vipflow.evaluation.operator import Operator
from vipflow.evaluation.sim_backend import SimBackend
from vipflow.hardware import Camera, Clock, MonotonicClock, Robot, RobotError
from vipflow.hardware.factory import open_hardware
from vipflow.runtime.limits import LimitsError, SafetyLimits


class Backend(Protocol):
    name: str
    camera: Camera
    robot: Robot
    clock: Clock
    perception: str  # "thread" / "process" (hardware) or "inline" (physics clock)

    def start(self) -> None: ...

    def reset(self, index: int, total: int, operator: Operator) -> dict[str, Any] | None:
        """Bring the scene to a start state for rollout ``index``; what identifies that start
        (the simulator's reset seed), or None when nothing does (an operator's reset)."""
        ...

    def restore(self, index: int, total: int, operator: Operator, photo: str | None) -> dict[str, Any] | None:
        """Bring the scene back to the start of trial ``index`` for the next policy of a paired
        session (``photo``: the picture of that start, for the operator)."""
        ...

    def scene_photo(self) -> np.ndarray | None:
        """A picture of the scene as it is now (RGB), stored with a paired trial; None where the
        start is identified otherwise (the simulator's seed)."""
        ...

    def judge(self, index: int, operator: Operator) -> tuple[bool, str]:
        """(success, who judged) after rollout ``index``."""
        ...

    def limits(self, base: SafetyLimits) -> SafetyLimits:
        """The limits to enforce here: a real arm refuses any profile but its own; the simulator
        applies its ``sim-kitchen`` profile (its own frame and joint ranges)."""
        ...

    def describe(self) -> dict[str, Any]: ...

    def stop(self) -> None: ...


class HardwareBackend:
    """A real (or faked) robot and camera, reset and judged by an operator."""

    perception = "thread"

    def __init__(
        self, camera: Camera, robot: Robot, clock: Clock | None = None, *, name: str = "hardware",
        perception: str = "thread", details: dict[str, Any] | None = None, profile: str = "franka",
    ) -> None:
        self.camera, self.robot = camera, robot
        self.profile = profile  # the limits profile this robot accepts: "franka" for a real arm
        self.clock = clock or MonotonicClock()
        self.name = name
        self.perception = perception
        self._details = details or {}

    def start(self) -> None:
        self.robot.start()
        self.camera.start()

    def reset(self, index: int, total: int, operator: Operator) -> None:
        with contextlib.suppress(RobotError):  # after a reflex the arm is already braked
            self.robot.hold()
        operator.prepare(index, total)
        self.robot.recover()  # clears a reflex from the previous rollout; harmless otherwise

    def restore(self, index: int, total: int, operator: Operator, photo: str | None) -> None:
        with contextlib.suppress(RobotError):
            self.robot.hold()
        operator.restore(index, total, photo)
        self.robot.recover()

    def scene_photo(self) -> np.ndarray | None:
        return self.camera.read().rgb

    def judge(self, index: int, operator: Operator) -> tuple[bool, str]:
        return operator.judge(index), "operator"

    def limits(self, base: SafetyLimits) -> SafetyLimits:
        if base.profile != self.profile:
            raise LimitsError(
                f"limits profile {base.profile!r} is not accepted by the {self.name} backend, which takes "
                f"{self.profile!r}: the simulator's looser profile never reaches a real arm"
            )
        return base

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "camera": type(self.camera).__name__, "robot": type(self.robot).__name__,
                **self._details}

    def stop(self) -> None:
        try:
            self.robot.stop()
        finally:
            self.camera.stop()


def open_backend(robot: Any, camera: Any = None, *, perception: str = "thread") -> Backend:
    """The backend for hardware specs (``vipflow.hardware.factory``): the simulator resets and
    judges itself, any other robot has an operator. ``camera`` defaults to the robot's driver."""
    if robot.driver == "sim":
        return SimBackend(robot.task, seed=robot.seed, image_size=robot.image_size)
    hw = open_hardware(camera or robot, robot)
    return HardwareBackend(hw.camera, hw.robot, hw.clock, name=robot.driver, perception=perception,
                           details=hw.details)
