"""Protocols and data types of the hardware boundary: what every camera and robot backend is.

RealSense (pyrealsense2), libfranka (franky), franka_ros2 topics, the MuJoCo kitchen and the
test fakes all implement these protocols, so the recorder, the control loop and the evaluation
session never know which one they drive. Robots receive *absolute* targets: the safety layer
turns a policy's delta action into a bounded absolute target before anything leaves the core.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


class HardwareError(RuntimeError):
    """A backend failed (disconnect, driver error). The message names the device and the fix."""


class CameraTimeout(HardwareError):
    """No frame arrived within the requested time."""


class RobotError(HardwareError):
    """The robot refused or aborted motion (reflex, limit violation, communication loss)."""


@dataclass(frozen=True)
class Frame:
    """One RGB image. ``stamp_ns`` is the capture time on the monotonic clock of the backend."""

    stamp_ns: int
    rgb: np.ndarray  # (H, W, 3) uint8, RGB order


@dataclass(frozen=True)
class RobotState:
    """Proprioception at one instant, in the robot base frame.

    ``ee_pose`` is ``[x, y, z, qx, qy, qz, qw]`` (metres, unit quaternion, scalar last, as in
    geometry_msgs/Pose). ``gripper_width`` is the finger opening in metres.
    """

    stamp_ns: int
    joint_pos: np.ndarray  # (7,) rad
    joint_vel: np.ndarray  # (7,) rad/s
    ee_pose: np.ndarray  # (7,)
    gripper_width: float


@dataclass(frozen=True)
class RobotTarget:
    """An absolute command: exactly one of ``ee_pose`` / ``joint_pos`` is set, plus the gripper."""

    gripper_width: float
    ee_pose: np.ndarray | None = None  # (7,) like RobotState.ee_pose
    joint_pos: np.ndarray | None = None  # (7,)

    def __post_init__(self) -> None:
        if (self.ee_pose is None) == (self.joint_pos is None):
            raise ValueError("RobotTarget needs exactly one of ee_pose or joint_pos")


@runtime_checkable
class Camera(Protocol):
    def start(self) -> None: ...

    def read(self, timeout_s: float = 1.0) -> Frame:
        """Block until the next new frame; raise CameraTimeout after ``timeout_s``."""
        ...

    def stop(self) -> None: ...


@runtime_checkable
class Robot(Protocol):
    def start(self) -> None: ...

    def state(self) -> RobotState:
        """The latest state; its ``stamp_ns`` tells how fresh it is."""
        ...

    def send(self, target: RobotTarget) -> None:
        """Stream one absolute target (already checked by the safety layer)."""
        ...

    def hold(self) -> None:
        """Stop moving and hold the current position."""
        ...

    def recover(self) -> None:
        """Clear a recoverable error (franka_msgs ErrorRecovery / franky recover)."""
        ...

    def stop(self) -> None: ...


class Clock(Protocol):
    """Time source of a control loop; simulation substitutes one that advances with the physics.
    ``kind`` ("monotonic" or "simulated") says what timing measured on it means: only a monotonic
    clock's periods and deadline misses are real-time measurements."""

    kind: str

    def now_ns(self) -> int: ...

    def sleep_until(self, t_ns: int) -> None: ...


class MonotonicClock:
    """Wall-clock pacing on ``time.monotonic_ns`` (never jumps with NTP)."""

    kind = "monotonic"

    def now_ns(self) -> int:
        return time.monotonic_ns()

    def sleep_until(self, t_ns: int) -> None:
        # Sleep most of the way, then spin the last ~1 ms: time.sleep overshoots by up to a
        # scheduler tick, which would eat the 25 Hz loop's deadline margin.
        while True:
            remaining = t_ns - time.monotonic_ns()
            if remaining <= 0:
                return
            if remaining > 1_500_000:
                time.sleep((remaining - 1_000_000) / 1e9)
