"""Franka (Panda / FR3) forward kinematics and a small IK step.

The safety layer needs the hand position a *joint* target would reach (to apply the workspace
box to ``joint_delta`` policies), and the fake robot needs to turn Cartesian targets into joint
motion the way an impedance controller would. Both arms share these kinematics (modified DH
parameters from Franka's FCI documentation); the flange-to-fingertip offset is the Franka Hand's.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

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
HOME_Q = np.array([0.0, -np.pi / 4, 0.0, -3 * np.pi / 4, 0.0, np.pi / 2, np.pi / 4])


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
