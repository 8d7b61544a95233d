"""The safety layer: every policy action becomes a bounded absolute target, or a hold.

Order of operations for one action (any ``action_space`` from ``vipflow.actions``):
1. reject non-finite or wrongly shaped actions (hold);
2. clamp the per-step delta (translation and rotation norms keep their direction; joints
   per joint), then clip to the workspace box / joint limits with margin, and the gripper width;
3. verify the candidate against *every* limit, including the cross-space ones predicted with
   the Franka kinematics (joint limits for Cartesian targets, hand box for joint targets); if it
   fails, shrink the step (bisection on its length) until it passes;
4. if even a zero step fails (the robot already sits outside the limits) hold and say why.

The verification in step 3 is the last line of defence: no target that fails it can leave. The
limits it verifies against are first clamped into the profile's hardware envelope at the loop
rate (``SafetyLimits.within_envelope``), so not even limits built in code can widen the arm's own.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from vipflow.actions import action_space as space_spec
from vipflow.actions import target_from_action
from vipflow.hardware import RobotState, RobotTarget
from vipflow.hardware.franka import fk_matrix, jacobian
from vipflow.runtime.limits import NOMINAL_RATE_HZ, SafetyLimits

_EPS = 1e-9
_BISECTION_STEPS = 12


@dataclass(frozen=True)
class Hold:
    """The safety layer's answer when no safe target exists: keep the current position."""

    reason: str


@dataclass
class SafetyReport:
    """Counts of what the layer did, for the results ledger."""

    passed: int = 0
    clamped: Counter = field(default_factory=Counter)
    holds: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {"passed": self.passed, "clamped": dict(self.clamped), "holds": dict(self.holds)}


class SafetyLayer:
    """Turns ``(state, action)`` into a ``RobotTarget`` inside ``limits`` or a ``Hold``.

    ``rate_hz`` is the control rate the per-tick envelope is derived for; a loop may run slower,
    never faster (``ControlLoop`` checks).
    """

    def __init__(
        self, limits: SafetyLimits | None = None, action_space: str = "ee_delta", *,
        rate_hz: float = NOMINAL_RATE_HZ,
    ) -> None:
        self.rate_hz = float(rate_hz)
        self.limits = (limits or SafetyLimits()).within_envelope(self.rate_hz)
        self.space = action_space
        self._dim = space_spec(action_space).dim
        self._kin_cache: tuple[bytes, np.ndarray, np.ndarray] | None = None
        self._jac_cache: tuple[bytes, np.ndarray] | None = None
        self.report = SafetyReport()
        self._box_lo = np.asarray(self.limits.workspace.min, dtype=np.float64)
        self._box_hi = np.asarray(self.limits.workspace.max, dtype=np.float64)

    # -- public ----------------------------------------------------------------------------------
    def filter(self, state: RobotState, action: np.ndarray) -> RobotTarget | Hold:
        try:
            action = np.asarray(action, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            return self._hold(f"action is not numeric: {action!r}")
        if action.shape != (self._dim,):
            return self._hold(f"{self.space} action must have {self._dim} values, got {action.shape[0]}")
        if not np.all(np.isfinite(action)):
            return self._hold("non-finite action (NaN/inf) from the policy")
        state_problem = _state_problem(state) or self._box_problems(np.asarray(state.ee_pose[:3]))
        if state_problem:
            return self._hold(
                f"robot state unusable: {'; '.join(state_problem)}; bring the arm back (reset) or "
                "fix the limits YAML"
            )
        action = self._clamp(action)
        target = self._candidate(state, action, 1.0)
        if self.violations(state, target):
            # Shrink the step until every limit holds; a zero step must hold, else the robot is
            # already outside the limits and only an operator can bring it back.
            target = self._candidate(state, action, 0.0)
            stuck = self.violations(state, target)
            if stuck:
                where = self._joint_problems(np.asarray(state.joint_pos, dtype=np.float64)) or stuck
                return self._hold(
                    "robot state already outside the limits: " + "; ".join(where)
                    + "; move the arm back (reset) or fix the limits YAML"
                )
            self.report.clamped["scaled_down"] += 1
            lo, hi = 0.0, 1.0
            for _ in range(_BISECTION_STEPS):
                mid = 0.5 * (lo + hi)
                candidate = self._candidate(state, action, mid)
                if self.violations(state, candidate):
                    hi = mid
                else:
                    lo, target = mid, candidate
        self.report.passed += 1
        return target

    def violations(self, state: RobotState, target: RobotTarget) -> list[str]:
        """Every limit ``target`` breaks, relative to ``state`` (empty list = safe to send)."""
        lim = self.limits
        out: list[str] = []
        g, g_lo, g_hi = float(target.gripper_width), lim.gripper.min_width_m, lim.gripper.max_width_m
        if not np.isfinite(g) or not g_lo - _EPS <= g <= g_hi + _EPS:
            out.append(f"gripper width {g:.4f} m outside [{g_lo}, {g_hi}]")
        q = np.asarray(state.joint_pos, dtype=np.float64)
        if target.ee_pose is not None:
            pose = np.asarray(target.ee_pose, dtype=np.float64)
            if pose.shape != (7,) or not np.all(np.isfinite(pose)):
                return [*out, "non-finite Cartesian target"]
            if abs(np.linalg.norm(pose[3:]) - 1.0) > 1e-6:
                out.append("target quaternion is not unit length")
            dp = pose[:3] - np.asarray(state.ee_pose[:3])
            drot = _rotation_angle(pose[3:], state.ee_pose[3:])
            out += self._step_problems(dp, drot)
            out += self._box_problems(pose[:3])
            if lim.kinematics == "franka":
                out += self._joint_problems(q + self._joint_step_for(state, dp, pose))
        else:
            qt = np.asarray(target.joint_pos, dtype=np.float64)
            if qt.shape != (7,) or not np.all(np.isfinite(qt)):
                return [*out, "non-finite joint target"]
            if np.max(np.abs(qt - q)) > lim.step.max_joint_rad + _EPS:
                out.append(f"joint step {np.max(np.abs(qt - q)):.4f} rad > {lim.step.max_joint_rad}")
            out += self._joint_problems(qt)
            if lim.kinematics == "franka":
                p_pred, drot = self._predicted_hand(state, qt)
                out += self._step_problems(p_pred - np.asarray(state.ee_pose[:3]), drot)
                out += self._box_problems(p_pred)
        return out

    # -- construction ------------------------------------------------------------------------------
    def _clamp(self, action: np.ndarray) -> np.ndarray:
        step = self.limits.step
        a = action.copy()
        if self.space == "joint_delta":
            clipped = np.clip(a[:7], -step.max_joint_rad, step.max_joint_rad)
            if np.any(clipped != a[:7]):
                self.report.clamped["joint_step"] += 1
            a[:7] = clipped
        else:
            for sl, cap, name in ((slice(0, 3), step.max_translation_m, "translation"),
                                  (slice(3, 6), step.max_rotation_rad, "rotation")):
                if _norm(a[sl]) > cap:
                    unit = a[sl] / np.max(np.abs(a[sl]))  # scale first: no overflow for huge values
                    a[sl] = unit / np.linalg.norm(unit) * cap
                    self.report.clamped[name] += 1
        g_lo, g_hi = self.limits.gripper.min_width_m, self.limits.gripper.max_width_m
        if not g_lo <= a[-1] <= g_hi:
            self.report.clamped["gripper"] += 1
            a[-1] = np.clip(a[-1], g_lo, g_hi)
        return a

    def _candidate(self, state: RobotState, action: np.ndarray, scale: float) -> RobotTarget:
        """Target for ``scale`` x the (clamped) step, clipped into the box / joint limits."""
        a = action.copy()
        a[:-1] *= scale
        target = target_from_action(self.space, state, a)
        if target.ee_pose is not None:
            pose = target.ee_pose.copy()
            pose[:3] = np.clip(pose[:3], self._box_lo, self._box_hi)
            pose[3:] /= np.linalg.norm(pose[3:])
            return RobotTarget(gripper_width=target.gripper_width, ee_pose=pose)
        qt = np.clip(target.joint_pos, self.limits.q_min, self.limits.q_max)
        return RobotTarget(gripper_width=target.gripper_width, joint_pos=qt)

    # -- checks -------------------------------------------------------------------------------------
    def _step_problems(self, dp: np.ndarray, drot: float) -> list[str]:
        step = self.limits.step
        out = []
        if np.linalg.norm(dp) > step.max_translation_m + _EPS:
            out.append(f"translation step {np.linalg.norm(dp):.4f} m > {step.max_translation_m}")
        if drot > step.max_rotation_rad + _EPS:
            out.append(f"rotation step {drot:.4f} rad > {step.max_rotation_rad}")
        return out

    def _box_problems(self, p: np.ndarray) -> list[str]:
        if np.all(p >= self._box_lo - _EPS) and np.all(p <= self._box_hi + _EPS):
            return []
        return [
            f"hand position {np.round(p, 4).tolist()} outside the workspace box "
            f"{list(self.limits.workspace.min)}..{list(self.limits.workspace.max)}"
        ]

    def _joint_problems(self, q: np.ndarray) -> list[str]:
        lo, hi = self.limits.q_min, self.limits.q_max
        bad = np.flatnonzero((q < lo - _EPS) | (q > hi + _EPS))
        if not bad.size:
            return []
        return [
            f"joint {i + 1} at {q[i]:.3f} rad outside [{lo[i]:.3f}, {hi[i]:.3f}] (limits - margin)"
            for i in bad
        ]

    # -- kinematic predictions (frame-agnostic: the reported pose may be in any fixed frame) ------
    def _kinematics_at(self, state: RobotState) -> tuple[np.ndarray, np.ndarray]:
        """(base->hand transform, rotation reported frame -> kinematic base), cached per state."""
        key = np.concatenate([state.joint_pos, state.ee_pose]).astype(np.float64).tobytes()
        if self._kin_cache is None or self._kin_cache[0] != key:
            t_fk = fk_matrix(state.joint_pos)
            r = t_fk[:3, :3] @ Rotation.from_quat(state.ee_pose[3:7]).as_matrix().T
            self._kin_cache = (key, t_fk, r)
        return self._kin_cache[1], self._kin_cache[2]

    def _joint_step_for(self, state: RobotState, dp: np.ndarray, pose: np.ndarray) -> np.ndarray:
        """First-order joint step reaching the Cartesian target (damped least squares)."""
        _, r = self._kinematics_at(state)
        drot = (Rotation.from_quat(pose[3:7]) * Rotation.from_quat(state.ee_pose[3:7]).inv()).as_rotvec()
        dx = np.concatenate([r @ dp, r @ drot])
        j = self._jacobian_at(state)
        return j.T @ np.linalg.solve(j @ j.T + 1e-4 * np.eye(6), dx)

    def _jacobian_at(self, state: RobotState) -> np.ndarray:
        key = np.asarray(state.joint_pos, dtype=np.float64).tobytes()
        if self._jac_cache is None or self._jac_cache[0] != key:
            self._jac_cache = (key, jacobian(state.joint_pos))
        return self._jac_cache[1]

    def _predicted_hand(self, state: RobotState, qt: np.ndarray) -> tuple[np.ndarray, float]:
        """Hand position (reported frame) and rotation angle a joint target leads to."""
        t_now, r = self._kinematics_at(state)
        t_new = fk_matrix(qt)
        p = np.asarray(state.ee_pose[:3]) + r.T @ (t_new[:3, 3] - t_now[:3, 3])
        angle = Rotation.from_matrix(t_new[:3, :3] @ t_now[:3, :3].T).magnitude()
        return p, float(angle)

    def _hold(self, reason: str) -> Hold:
        self.report.holds[reason.split(":")[0]] += 1
        return Hold(reason)


def _norm(v: np.ndarray) -> float:
    """Euclidean norm that cannot overflow for huge finite inputs (a policy may output 1e300)."""
    m = float(np.max(np.abs(v)))
    return 0.0 if m == 0.0 else m * float(np.linalg.norm(v / m))


def _rotation_angle(q_a: np.ndarray, q_b: np.ndarray) -> float:
    return float((Rotation.from_quat(q_a) * Rotation.from_quat(q_b).inv()).magnitude())


def _state_problem(state: RobotState) -> list[str]:
    arrays = (state.joint_pos, state.ee_pose, [state.gripper_width])
    if any(not np.all(np.isfinite(np.asarray(a, dtype=np.float64))) for a in arrays):
        return ["non-finite robot state (check the robot driver)"]
    return []
