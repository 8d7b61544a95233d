"""The Franka arm (FR3 and Panda) as a model: its joints, its limits, its hand and its kinematics.

Every number about the arm lives here once. The joint ranges, joint velocity limits and
Cartesian speed limits are the datasheet values of both arms (Franka FCI documentation,
"Robot and interface specifications"); what vipflow may command is their intersection, so a
policy trained on one arm runs on the other. ``FRANKA_ENVELOPE`` turns them into per-tick
maxima at a loop rate: the hardware envelope that a limits file may only tighten
(``vipflow.runtime.limits``) and that the safety layer clamps to as its last line of defence.

Kinematics: forward kinematics and the geometric Jacobian from the modified DH parameters of
Franka's FCI documentation (shared by both arms), the Franka Hand's flange-to-fingertip offset,
and a damped least-squares IK step. The safety layer needs the hand position a *joint* target
reaches; the fake robot turns Cartesian targets into joint motion like an impedance controller.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from vipflow.hardware.envelope import Envelope

JOINT_NAMES = tuple(f"fr3_joint{i}" for i in range(1, 8))  # franka_ros2 names (FR3)
FINGER_JOINTS = ("fr3_finger_joint1", "fr3_finger_joint2")

# Datasheet limits (rad, rad/s, m/s, rad/s).
PANDA_Q_MIN = (-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973)
PANDA_Q_MAX = (2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973)
PANDA_DQ_MAX = (2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61)
PANDA_EE_SPEED, PANDA_EE_ROTATION_SPEED = 1.7, 2.5
FR3_Q_MIN = (-2.7437, -1.7837, -2.9007, -3.0421, -2.8065, 0.5445, -3.0159)
FR3_Q_MAX = (2.7437, 1.7837, 2.9007, -0.1518, 2.8065, 4.5169, 3.0159)
FR3_DQ_MAX = (2.62, 2.62, 2.62, 2.62, 5.26, 4.18, 5.26)
FR3_EE_SPEED, FR3_EE_ROTATION_SPEED = 3.0, 2.5

# What vipflow commands: the intersection of both arms.
Q_MIN = tuple(max(a, b) for a, b in zip(PANDA_Q_MIN, FR3_Q_MIN, strict=True))
Q_MAX = tuple(min(a, b) for a, b in zip(PANDA_Q_MAX, FR3_Q_MAX, strict=True))
DQ_MAX = tuple(min(a, b) for a, b in zip(PANDA_DQ_MAX, FR3_DQ_MAX, strict=True))
EE_SPEED = min(PANDA_EE_SPEED, FR3_EE_SPEED)
EE_ROTATION_SPEED = min(PANDA_EE_ROTATION_SPEED, FR3_EE_ROTATION_SPEED)

# Franka Hand: each finger slides 0..4 cm, so the gripper opens 0..8 cm.
FINGER_MAX_M = 0.04
GRIPPER_MAX_WIDTH_M = 2 * FINGER_MAX_M

HOME_Q = np.array([0.0, -np.pi / 4, 0.0, -3 * np.pi / 4, 0.0, np.pi / 2, np.pi / 4])

# The hand cannot leave a sphere around the shoulder (joint 2, 0.333 m above the base): the link
# offsets from there to the fingertip add up to 1.163 m. The envelope's workspace is the box
# around that sphere, rounded up.
SHOULDER_HEIGHT_M = 0.333
REACH_M = 1.2


def reach_box(base: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> tuple[tuple, tuple]:
    """The box around the arm's reach for a base at ``base`` (in the frame poses are reported in)."""
    centre = np.asarray(base, dtype=np.float64) + (0.0, 0.0, SHOULDER_HEIGHT_M)
    lo, hi = centre - REACH_M, centre + REACH_M
    return tuple(round(float(v), 4) for v in lo), tuple(round(float(v), 4) for v in hi)


FRANKA_ENVELOPE = Envelope(
    name="franka",
    q_min=Q_MIN,
    q_max=Q_MAX,
    dq_max=DQ_MAX,
    ee_speed=EE_SPEED,
    ee_rotation_speed=EE_ROTATION_SPEED,
    gripper_max_m=GRIPPER_MAX_WIDTH_M,
    workspace_min=reach_box()[0],
    workspace_max=reach_box()[1],
)

# (a, d, alpha) per joint, Craig's modified DH convention; theta is the joint angle.
_DH = np.array(
    [
        [0.0, 0.333, 0.0],
        [0.0, 0.0, -np.pi / 2],
        [0.0, 0.316, np.pi / 2],
        [0.0825, 0.0, np.pi / 2],
        [-0.0825, 0.384, -np.pi / 2],
        [0.0, 0.0, np.pi / 2],
        [0.088, 0.0, np.pi / 2],
    ]
)
FLANGE_D = 0.107
HAND_D = 0.1034  # flange -> fingertip centre (Franka Hand), rotated -45 deg about z


def _mdh(a: float, d: float, alpha: float, theta: float) -> np.ndarray:
    ca, sa, ct, st = np.cos(alpha), np.sin(alpha), np.cos(theta), np.sin(theta)
    return np.array(
        [
            [ct, -st, 0.0, a],
            [st * ca, ct * ca, -sa, -d * sa],
            [st * sa, ct * sa, ca, d * ca],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )


_TOOL = _mdh(0.0, FLANGE_D, 0.0, 0.0) @ _mdh(0.0, HAND_D, 0.0, -np.pi / 4)


def _chain(q: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Joint frames (joint i rotates about the z axis of frame i) and the fingertip transform."""
    t = np.eye(4)
    frames = []
    for (a, d, alpha), theta in zip(_DH, np.asarray(q, dtype=np.float64), strict=True):
        t = t @ _mdh(a, d, alpha, theta)
        frames.append(t)
    return frames, t @ _TOOL


def fk_matrix(q: np.ndarray) -> np.ndarray:
    """4x4 base->fingertip transform for joint angles ``q`` (7,)."""
    return _chain(q)[1]


def forward_kinematics(q: np.ndarray) -> np.ndarray:
    """End-effector pose ``[x, y, z, qx, qy, qz, qw]`` (like ``RobotState.ee_pose``)."""
    t = fk_matrix(q)
    return np.concatenate([t[:3, 3], Rotation.from_matrix(t[:3, :3]).as_quat()])


def pose_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """6-D error ``[dp, rotvec(R_target R_current^T)]`` between two 7-D poses (base frame)."""
    dp = np.asarray(target[:3]) - np.asarray(current[:3])
    dr = (Rotation.from_quat(target[3:7]) * Rotation.from_quat(current[3:7]).inv()).as_rotvec()
    return np.concatenate([dp, dr])


def jacobian(q: np.ndarray) -> np.ndarray:
    """6x7 geometric Jacobian (base frame) of the fingertip: rows ``[v; omega]``."""
    frames, tip = _chain(q)
    z = np.stack([f[:3, 2] for f in frames], axis=1)
    o = np.stack([f[:3, 3] for f in frames], axis=1)
    return np.vstack([np.cross(z.T, (tip[:3, 3][:, None] - o).T).T, z])


def inverse_kinematics(
    target_pose: np.ndarray, q_start: np.ndarray, iterations: int = 30, damping: float = 1e-2
) -> np.ndarray:
    """Damped least-squares IK from ``q_start``; returns the best joint vector found."""
    q = np.array(q_start, dtype=np.float64)
    for _ in range(iterations):
        err = pose_error(target_pose, forward_kinematics(q))
        if np.linalg.norm(err) < 1e-6:
            break
        j = jacobian(q)
        q = q + j.T @ np.linalg.solve(j @ j.T + damping**2 * np.eye(6), err)
    return q
