"""Turning an absolute robot target into position-servo commands for the kitchen Franka.

The kitchen's arm has MuJoCo position servos (kp 870/120, joint damping 100/10). Over one 40 ms
control period such a servo covers only about kp·dt/damping ≈ 35 % of a step, and it sags under
gravity by qfrc_bias/kp. So a target is tracked by (1) damped-least-squares IK on the
``end_effector`` site for the joint step that reaches it, (2) dividing that step by the
tracking ratio, rescaled as a whole when it exceeds the speed limit so the direction is kept,
and (3) adding the gravity (bias-force) offset. Both are specific to 25 Hz.

The ratio is 0.27 rather than the first-order estimate 0.35: with 0.35 a stream of 1 cm steps
(what a policy replaying demo deltas sends) is realised at only ~78 %; with 0.27 at 95–102 %
(measured, tests/sim/test_backends.py). Demo labels are realised motions, so unit gain matters.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from vipflow.hardware.franka import pose_error

N_ARM = 7


@dataclass(frozen=True)
class ServoConfig:
    """Control-law constants for 25 Hz (recompute kp·dt/damping for another rate)."""

    tracking_ratio: float = 0.27  # measured unit-gain value at 25 Hz (see module docstring)
    # rad/s commanded (~1 rad/s realised after the lag, half a real Franka's limit). FrankaKitchen's
    # own action scaling is 2 rad/s; at that speed the hinge cabinet, at the edge of the arm's
    # reach, cannot be opened within 100 steps.
    max_joint_speed: float = 3.0
    ik_damping: float = 0.05  # DLS lambda
    rotation_weight: float = 1.0  # metres of error per radian in the IK objective


def site_pose(model: mujoco.MjModel, data: mujoco.MjData, site_id: int) -> np.ndarray:
    """``[x, y, z, qx, qy, qz, qw]`` of a site in the world frame (kinematics must be current)."""
    quat = Rotation.from_matrix(data.site_xmat[site_id].reshape(3, 3)).as_quat()
    return np.concatenate([data.site_xpos[site_id], quat])


@dataclass(frozen=True)
class LeadConfig:
    """Integral action of :class:`TrackingLead` (see there)."""

    gain: float = 0.5  # share of last period's tracking error added to the lead (1: deadbeat)
    max_lead_m: float = 0.03  # bound on the translation lead
    max_lead_rad: float = 0.2  # bound on the rotation lead (and per joint for joint targets)
    # Only targets within this of the measured pose are increments of a stream (a policy's are
    # <= 1 cm / 0.05 rad, demo steps <= 2 cm); a target further away is a destination, reached
    # by the servo law alone (integrating its approach would wind the lead up and overshoot).
    reach_m: float = 0.02
    reach_rad: float = 0.1


class TrackingLead:
    """Integral action on the tracking error of a stream of absolute targets.

    A target a policy sends is the measured pose plus an increment (``vipflow.actions``).
    Under contact (a door's hinge, a switch's spring) or where DLS IK shortens the step (the
    edge of the reach) the arm falls short of each target by the load's deflection, and the
    next target, built from the measured pose again, forgets the shortfall: the motion is
    realised at a fraction of what was asked, tick after tick (measured: 10-50 % on the light
    switch and hinge door). This adds the integrated shortfall to every target (``aim``), so
    the servo's equilibrium leads the arm until the motion is realised, as a hand keeps
    pushing; in free space the shortfall is ~0 and so is the lead. The lead is bounded, which
    bounds the extra force, and dropped on a hold or reset. On a Cartesian impedance controller
    this is the lead F/K the equilibrium must have over the measured pose under a load F.
    """

    def __init__(self, config: LeadConfig | None = None):
        self.config = config or LeadConfig()
        self.lead = np.zeros(0)
        self._last: np.ndarray | None = None  # the last target sent, of the lead's kind

    def reset(self) -> None:
        self.lead = np.zeros(0)
        self._last = None

    def idle(self) -> None:
        """A period passed without a target: its motion says nothing about the tracking."""
        self._last = None

    def aim(self, measured: np.ndarray, target: np.ndarray, *, pose: bool) -> np.ndarray:
        """Where to aim this period for ``target``: an ee pose (7,) if ``pose``, else joints (7,)."""
        cfg = self.config
        target = np.asarray(target, dtype=np.float64)
        if self.lead.shape != ((6,) if pose else (N_ARM,)):  # first target, or another kind
            self.reset()
            self.lead = np.zeros(6 if pose else N_ARM)
        if self._last is not None:
            self.lead += cfg.gain * _error(measured, self._last, pose)
            if pose:
                self.lead[:3] = _bounded(self.lead[:3], cfg.max_lead_m)
                self.lead[3:] = _bounded(self.lead[3:], cfg.max_lead_rad)
            else:
                self.lead = np.clip(self.lead, -cfg.max_lead_rad, cfg.max_lead_rad)
        step = _error(measured, target, pose)
        if pose:
            near = np.linalg.norm(step[:3]) <= cfg.reach_m and np.linalg.norm(step[3:]) <= cfg.reach_rad
        else:
            near = float(np.max(np.abs(step))) <= cfg.reach_rad
        self._last = target if near else None
        if not near:  # a destination, not an increment: the servo law alone goes there
            self.lead[:] = 0.0
        if not pose:
            return target + self.lead
        rot = Rotation.from_rotvec(self.lead[3:]) * Rotation.from_quat(target[3:7])
        return np.concatenate([target[:3] + self.lead[:3], rot.as_quat()])


def _error(current: np.ndarray, target: np.ndarray, pose: bool) -> np.ndarray:
    return pose_error(target, current) if pose else target - current


def _bounded(v: np.ndarray, bound: float) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v * (bound / norm) if norm > bound else v


def ik_step(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    site_id: int,
    target_pose: np.ndarray,
    config: ServoConfig,
) -> np.ndarray:
    """Joint step (7,) that moves the site to ``target_pose`` to first order (DLS)."""
    jacp = np.zeros((3, model.nv))
    jacr = np.zeros((3, model.nv))
    mujoco.mj_jacSite(model, data, jacp, jacr, site_id)
    jac = np.vstack([jacp[:, :N_ARM], config.rotation_weight * jacr[:, :N_ARM]])
    err = pose_error(target_pose, site_pose(model, data, site_id))
    err[3:] *= config.rotation_weight
    lam2 = config.ik_damping**2
    return jac.T @ np.linalg.solve(jac @ jac.T + lam2 * np.eye(6), err)


def servo_command(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    joint_step: np.ndarray,
    period_s: float,
    config: ServoConfig,
) -> np.ndarray:
    """Position-servo targets (7,) for the arm that realise ``joint_step`` within one period."""
    q = data.qpos[:N_ARM]
    command = np.asarray(joint_step, dtype=np.float64) / config.tracking_ratio
    limit = config.max_joint_speed * period_s
    peak = float(np.max(np.abs(command)))
    if peak > limit:
        command *= limit / peak  # keep the direction, cap the speed
    gravity = data.qfrc_bias[:N_ARM] / model.actuator_gainprm[:N_ARM, 0]
    ctrl = q + command + gravity
    lo, hi = model.actuator_ctrlrange[:N_ARM].T
    return np.clip(ctrl, lo, hi)


def solve_ik(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    site_id: int,
    target_pose: np.ndarray,
    config: ServoConfig,
    iterations: int = 300,
    tol: float = 1e-4,
    limit_margin: float = 0.05,
) -> bool:
    """Move ``data.qpos[:7]`` kinematically until the site reaches ``target_pose`` (for resets).

    The null space pulls toward the starting posture and joints stay ``limit_margin`` inside
    their limits: a reset pose pinned at a joint limit cannot move, so its episode would fail.
    """
    lo, hi = model.jnt_range[:N_ARM].T
    lo, hi = lo + limit_margin, hi - limit_margin
    posture = np.clip(data.qpos[:N_ARM].copy(), lo, hi)
    jacp = np.zeros((3, model.nv))
    jacr = np.zeros((3, model.nv))
    for _ in range(iterations):
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        err = pose_error(target_pose, site_pose(model, data, site_id))
        if np.linalg.norm(err) < tol:
            return True
        mujoco.mj_jacSite(model, data, jacp, jacr, site_id)
        jac = np.vstack([jacp[:, :N_ARM], jacr[:, :N_ARM]])
        pinv = jac.T @ np.linalg.inv(jac @ jac.T + config.ik_damping**2 * np.eye(6))
        null = (np.eye(N_ARM) - pinv @ jac) @ (posture - data.qpos[:N_ARM])
        step = pinv @ err + 0.1 * null
        data.qpos[:N_ARM] = np.clip(data.qpos[:N_ARM] + step, lo, hi)
    mujoco.mj_kinematics(model, data)
    return bool(np.linalg.norm(pose_error(target_pose, site_pose(model, data, site_id))) < 1e-2)
