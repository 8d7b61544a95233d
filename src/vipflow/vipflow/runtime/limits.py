"""Safety limits: what the safety layer lets through, loaded from YAML.

The defaults are deliberately conservative for a Franka FR3 or Panda at 25 Hz: 1 cm and 0.05 rad
per 40 ms step (0.25 m/s, 1.25 rad/s), 0.02 rad per joint per step (0.5 rad/s), the intersection
of the FR3 and Panda joint ranges shrunk by a 0.1 rad margin, and a table-top box in front of the
robot. ``config/safety_default.yaml`` is the same set written out (a test keeps them equal).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from vipflow.config_schema import parse_yaml

# Intersection of the Franka FR3 and Panda joint position limits (rad, datasheets).
FRANKA_Q_MIN = (-2.7437, -1.7628, -2.8973, -3.0421, -2.8065, 0.5445, -2.8973)
FRANKA_Q_MAX = (2.7437, 1.7628, 2.8973, -0.1518, 2.8065, 3.7525, 2.8973)


class LimitsError(ValueError):
    """A safety-limits file is malformed; the message names the key and what is expected."""


@dataclass(frozen=True)
class StepLimits:
    """Largest change one command may ask for, relative to the measured state."""

    max_translation_m: float = 0.01
    max_rotation_rad: float = 0.05
    max_joint_rad: float = 0.02


@dataclass(frozen=True)
class WorkspaceBox:
    """Axis-aligned box for the end-effector position, in the frame of ``RobotState.ee_pose``."""

    min: tuple[float, float, float] = (0.25, -0.40, 0.05)
    max: tuple[float, float, float] = (0.75, 0.40, 0.70)


@dataclass(frozen=True)
class JointLimits:
    min: tuple[float, ...] = FRANKA_Q_MIN
    max: tuple[float, ...] = FRANKA_Q_MAX
    margin_rad: float = 0.1


@dataclass(frozen=True)
class GripperLimits:
    min_width_m: float = 0.0
    max_width_m: float = 0.08


@dataclass(frozen=True)
class WatchdogLimits:
    """Freshness bounds: a tick holds when its inputs are older; ``stale_ticks`` in a row trip it."""

    max_observation_age_s: float = 0.2
    max_state_age_s: float = 0.1
    stale_ticks: int = 5


@dataclass(frozen=True)
class SafetyLimits:
    step: StepLimits = field(default_factory=StepLimits)
    workspace: WorkspaceBox = field(default_factory=WorkspaceBox)
    joints: JointLimits = field(default_factory=JointLimits)
    gripper: GripperLimits = field(default_factory=GripperLimits)
    watchdog: WatchdogLimits = field(default_factory=WatchdogLimits)
    # "franka": predict joint motion of Cartesian targets (and hand motion of joint targets) with
    # the Franka kinematics; "none": check each target only in its own space.
    kinematics: str = "franka"

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def q_min(self) -> np.ndarray:
        return np.asarray(self.joints.min, dtype=np.float64) + self.joints.margin_rad

    @property
    def q_max(self) -> np.ndarray:
        return np.asarray(self.joints.max, dtype=np.float64) - self.joints.margin_rad

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for section in ("workspace", "joints"):
            out[section] = {k: list(v) if isinstance(v, tuple) else v for k, v in out[section].items()}
        return out


_SECTIONS = {
    "step": StepLimits,
    "workspace": WorkspaceBox,
    "joints": JointLimits,
    "gripper": GripperLimits,
    "watchdog": WatchdogLimits,
}


def _validate(lim: SafetyLimits) -> None:
    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise LimitsError(msg)

    for name in ("max_translation_m", "max_rotation_rad", "max_joint_rad"):
        value = getattr(lim.step, name)
        need(np.isfinite(value) and value > 0, f"step.{name} must be a positive number, got {value}")
    lo, hi = np.asarray(lim.workspace.min, float), np.asarray(lim.workspace.max, float)
    need(lo.shape == (3,) and hi.shape == (3,), "workspace.min and workspace.max need 3 numbers (x, y, z)")
    need(bool(np.all(lo < hi)), f"workspace.min {lo.tolist()} must be below workspace.max {hi.tolist()}")
    qlo, qhi = np.asarray(lim.joints.min, float), np.asarray(lim.joints.max, float)
    need(qlo.shape == (7,) and qhi.shape == (7,), "joints.min and joints.max need 7 numbers (rad)")
    need(lim.joints.margin_rad >= 0, "joints.margin_rad must be >= 0")
    need(
        bool(np.all(qlo + lim.joints.margin_rad < qhi - lim.joints.margin_rad)),
        "joints: min + margin_rad must stay below max - margin_rad for every joint",
    )
    g = lim.gripper
    need(0 <= g.min_width_m < g.max_width_m, "gripper: need 0 <= min_width_m < max_width_m (metres)")
    w = lim.watchdog
    need(w.max_observation_age_s > 0 and w.max_state_age_s > 0, "watchdog ages must be positive seconds")
    need(int(w.stale_ticks) >= 1, "watchdog.stale_ticks must be >= 1")
    need(lim.kinematics in ("franka", "none"), f"kinematics: 'franka' or 'none', got {lim.kinematics!r}")


def limits_from_dict(data: dict[str, Any]) -> SafetyLimits:
    """Build limits from a (possibly partial) mapping; missing keys keep the defaults."""
    if not isinstance(data, dict):
        raise LimitsError(f"safety limits must be a mapping of sections, got {type(data).__name__}")
    unknown = set(data) - set(_SECTIONS) - {"kinematics"}
    if unknown:
        raise LimitsError(f"unknown safety-limit sections {sorted(unknown)}; allowed: {sorted(_SECTIONS)}")
    kwargs: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        section = data.get(name) or {}
        allowed = {f.name for f in fields(cls)}
        bad = set(section) - allowed
        if bad:
            raise LimitsError(f"unknown keys {sorted(bad)} in section {name!r}; allowed: {sorted(allowed)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in section.items()}
        kwargs[name] = cls(**values)
    if "kinematics" in data:
        kwargs["kinematics"] = data["kinematics"]
    return SafetyLimits(**kwargs)


def load_limits(path: str | Path | None = None) -> SafetyLimits:
    """Limits from a YAML file, or the conservative defaults when ``path`` is None."""
    if path is None:
        return SafetyLimits()
    path = Path(path)
    if not path.is_file():
        raise LimitsError(f"safety limits file {path} not found; pass an existing YAML (see config/)")
    try:
        data = parse_yaml(path.read_text()) or {}  # a duplicate key is an error, not an override
    except yaml.YAMLError as exc:
        raise LimitsError(f"{path} is not valid YAML: {exc}") from exc
    try:
        return limits_from_dict(data)
    except (TypeError, LimitsError) as exc:
        raise LimitsError(f"{path}: {exc}") from exc
