"""The hardware envelope: what an arm can physically do, as bounds on every safety limit.

An ``Envelope`` is a constant of a robot model (``franka.FRANKA_ENVELOPE`` for the real arms,
``simulator.KITCHEN_ENVELOPE`` for the simulated kitchen Panda). Safety limits
(``vipflow.runtime.limits``) may only tighten it; the safety layer clamps to it as its last line
of defence. Per-tick maxima follow from the velocity limits at the loop rate.
"""

from __future__ import annotations

from dataclasses import dataclass

# A watchdog may be made stricter but never switched off: frames and states older than this
# always hold the arm, and this many stale ticks in a row (10 s at 25 Hz) always stop it.
WATCHDOG_MAX_AGE_S = 1.0
WATCHDOG_MAX_STALE_TICKS = 250


@dataclass(frozen=True)
class Envelope:
    """What an arm can do; limits may only tighten it.

    Per-tick maxima follow from the velocity limits at the loop rate (``step_bounds``), so a
    faster loop gets smaller steps. ``kinematics`` lists the allowed modes of the safety
    layer's cross-space checks ("franka" predicts joints of Cartesian targets and vice versa).
    """

    name: str
    q_min: tuple[float, ...]
    q_max: tuple[float, ...]
    dq_max: tuple[float, ...]  # rad/s per joint
    ee_speed: float  # m/s
    ee_rotation_speed: float  # rad/s
    gripper_max_m: float
    workspace_min: tuple[float, float, float]
    workspace_max: tuple[float, float, float]
    kinematics: tuple[str, ...] = ("franka",)
    watchdog_max_age_s: float = WATCHDOG_MAX_AGE_S
    watchdog_max_stale_ticks: int = WATCHDOG_MAX_STALE_TICKS

    def step_bounds(self, rate_hz: float) -> dict[str, float]:
        """Largest per-tick change at ``rate_hz``: translation (m), rotation and joints (rad)."""
        if not rate_hz > 0:
            raise ValueError(f"rate_hz must be positive, got {rate_hz}")
        return {
            "max_translation_m": self.ee_speed / rate_hz,
            "max_rotation_rad": self.ee_rotation_speed / rate_hz,
            "max_joint_rad": min(self.dq_max) / rate_hz,
        }

    def describe(self, rate_hz: float) -> dict:
        """For ledgers: the bounds that applied, per tick at ``rate_hz``."""
        return {
            "name": self.name,
            "rate_hz": rate_hz,
            "step": {k: round(v, 6) for k, v in self.step_bounds(rate_hz).items()},
            "joints": {"min": list(self.q_min), "max": list(self.q_max)},
            "gripper_max_m": self.gripper_max_m,
            "workspace": {"min": list(self.workspace_min), "max": list(self.workspace_max)},
            "watchdog": {"max_age_s": self.watchdog_max_age_s,
                         "max_stale_ticks": self.watchdog_max_stale_ticks},
        }
