"""Action spaces for kinesthetic data, and the one function that defines them.

Kinesthetic demos record no commands, only states, so an action is *derived* from two
consecutive states on the control grid. The same code turns a policy's action back into an
absolute robot target at run time, so training labels and executed commands cannot drift apart.

Spaces (all expressed in the robot base frame):

``ee_delta`` (7-D): ``[dx, dy, dz, rx, ry, rz, gripper]`` where ``d*`` is the translation from
    pose t to pose t+1 in metres, ``r*`` the rotation vector (axis * angle, rad) of
    ``R_{t+1} R_t^T`` (a left, base-frame increment), and ``gripper`` the absolute finger width
    at t+1 in metres.
``joint_delta`` (8-D): ``[dq1 … dq7, gripper]``, joint increments in rad plus the absolute
    gripper width at t+1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from vipflow.hardware import RobotState, RobotTarget


@dataclass(frozen=True)
class ActionSpace:
    name: str
    dim: int
    labels: tuple[str, ...]


ACTION_SPACES: dict[str, ActionSpace] = {
    "ee_delta": ActionSpace("ee_delta", 7, ("dx", "dy", "dz", "rx", "ry", "rz", "gripper")),
    "joint_delta": ActionSpace(
        "joint_delta", 8, ("dq1", "dq2", "dq3", "dq4", "dq5", "dq6", "dq7", "gripper")
    ),
}


def action_space(name: str) -> ActionSpace:
    try:
        return ACTION_SPACES[name]
    except KeyError:
        raise ValueError(
            f"unknown action space {name!r}; choose one of {sorted(ACTION_SPACES)}"
        ) from None


def actions_from_states(
    space: str, joint_pos: np.ndarray, ee_pose: np.ndarray, gripper: np.ndarray
) -> np.ndarray:
    """Actions a_t taking state t to state t+1, for arrays of T states on the control grid.

    Returns a (T-1, dim) float32 array. Inputs: joint_pos (T,7), ee_pose (T,7), gripper (T,).
    """
    spec = action_space(space)
    joint_pos = np.asarray(joint_pos, dtype=np.float64)
    ee_pose = np.asarray(ee_pose, dtype=np.float64)
    gripper = np.asarray(gripper, dtype=np.float64).reshape(-1)
    n = len(gripper)
    if len(joint_pos) != n or len(ee_pose) != n:
        raise ValueError(
            f"state arrays disagree in length: joint_pos {len(joint_pos)}, ee_pose {len(ee_pose)}, "
            f"gripper {n}"
        )
    if n < 2:
        return np.zeros((0, spec.dim), dtype=np.float32)
    fingers = gripper_commands(gripper)[:, None]
    if spec.name == "joint_delta":
        out = np.concatenate([np.diff(joint_pos, axis=0), fingers], axis=1)
    else:
        rot = Rotation.from_quat(ee_pose[:, 3:7])
        drot = (rot[1:] * rot[:-1].inv()).as_rotvec()
        out = np.concatenate([np.diff(ee_pose[:, :3], axis=0), drot, fingers], axis=1)
    return out.astype(np.float32)


GRIPPER_MOTION_M = 0.001  # a width drop per tick above this is the fingers closing
GRIPPER_RELEASE_M = 0.005  # a rise this large within GRIPPER_RELEASE_TICKS is an opening stroke
GRIPPER_RELEASE_TICKS = 3  # (5 mm in 0.12 s at 25 Hz: a Franka Hand opening at 0.05 m/s does 6)


def gripper_commands(width: np.ndarray) -> np.ndarray:
    """The finger command behind each tick's width change, for T widths: (T-1,) widths.

    The command is the next width, except while the fingers *hold* something: after a closing
    motion they stop where the object stopped them, and that width is not what the hand asked
    for (it asked to close; the squeeze is the difference). A state-derived label of the held
    width would command no squeeze, so a replay or a policy would let the object slip. From
    the tick after a closing motion until an opening stroke (the width rising
    ``GRIPPER_RELEASE_M`` within ``GRIPPER_RELEASE_TICKS``; a held object prying the fingers
    apart creeps far slower) the command is 0: close. Two widths (one tick) have no history,
    so their command is the next width.
    """
    width = np.asarray(width, dtype=np.float64).reshape(-1)
    out = width[1:].copy()
    holding = False
    for t in range(len(out)):
        after = width[t + 1]
        if holding:
            opened = after - width[max(0, t + 1 - GRIPPER_RELEASE_TICKS)] > GRIPPER_RELEASE_M
            holding = not opened
            if holding:
                out[t] = 0.0
        else:
            holding = after < width[t] - GRIPPER_MOTION_M
    return out


def target_from_action(space: str, state: RobotState, action: np.ndarray) -> RobotTarget:
    """The absolute target that ``action`` asks for from ``state`` (inverse of the above)."""
    spec = action_space(space)
    action = np.asarray(action, dtype=np.float64).reshape(-1)
    if action.shape != (spec.dim,):
        raise ValueError(f"{space} action must have {spec.dim} values, got {action.shape[0]}")
    gripper = float(action[-1])
    if spec.name == "joint_delta":
        return RobotTarget(gripper_width=gripper, joint_pos=np.asarray(state.joint_pos) + action[:7])
    rot = Rotation.from_rotvec(action[3:6]) * Rotation.from_quat(state.ee_pose[3:7])
    pose = np.concatenate([np.asarray(state.ee_pose[:3]) + action[:3], rot.as_quat()])
    return RobotTarget(gripper_width=gripper, ee_pose=pose)


# Proprioceptive features a policy may observe, with their widths.
PROPRIO_FEATURES: dict[str, int] = {"joint_pos": 7, "ee_pose": 7, "gripper": 1}


def proprio_vector(
    keys: tuple[str, ...] | list[str],
    joint_pos: np.ndarray,
    ee_pose: np.ndarray,
    gripper: np.ndarray | float,
) -> np.ndarray:
    """Concatenate the chosen proprioceptive features (works on one state or a (T, ·) batch)."""
    parts = {"joint_pos": np.asarray(joint_pos), "ee_pose": np.asarray(ee_pose)}
    g = np.asarray(gripper, dtype=np.float64)
    parts["gripper"] = g[..., None] if g.ndim == parts["ee_pose"].ndim - 1 else g
    unknown = [k for k in keys if k not in PROPRIO_FEATURES]
    if unknown:
        raise ValueError(f"unknown proprioception keys {unknown}; choose from {sorted(PROPRIO_FEATURES)}")
    if not keys:
        return np.zeros(parts["ee_pose"].shape[:-1] + (0,), dtype=np.float32)
    return np.concatenate([parts[k] for k in keys], axis=-1).astype(np.float32)
