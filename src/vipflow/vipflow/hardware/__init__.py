"""The hardware boundary: what every camera and robot looks like to the core, and the drivers.

``vipflow.hardware`` itself holds the protocols and data types (``protocols``); the Franka model
(joint ranges, velocity limits, gripper, home pose, kinematics and the envelope a limits file
may only tighten) is ``franka``. One module per driver — ``fake``, ``replay``, ``realsense``,
``franky``, ``simulator`` — and ``factory`` opens any of them by name from a small spec
(``make_camera(spec)`` / ``make_robot(spec)``), the one vocabulary the CLI, the recorder and
evaluation use.
"""

from vipflow.hardware.protocols import (
    Camera,
    CameraTimeout,
    Clock,
    Frame,
    HardwareError,
    MonotonicClock,
    Robot,
    RobotError,
    RobotState,
    RobotTarget,
)

__all__ = [
    "Camera",
    "CameraTimeout",
    "Clock",
    "Frame",
    "HardwareError",
    "MonotonicClock",
    "Robot",
    "RobotError",
    "RobotState",
    "RobotTarget",
]
