"""Safety limits: what the safety layer lets through, loaded from YAML, never past the arm.

The defaults are deliberately conservative for a Franka FR3 or Panda at 25 Hz: 1 cm and 0.05 rad
per 40 ms step (0.25 m/s, 1.25 rad/s), 0.02 rad per joint per step (0.5 rad/s), the intersection
of the FR3 and Panda joint ranges shrunk by a 0.1 rad margin, and a table-top box in front of the
robot. ``config/safety_default.yaml`` is the same set written out (a test keeps them equal).

Limits may only tighten the arm's own: every value is checked against the envelope of its
*profile* (``vipflow.hardware.franka.FRANKA_ENVELOPE`` for ``franka``, the default), with the
per-tick maxima derived from the velocity limits at the loop rate. A value beyond it, of the
wrong type, non-finite, or a watchdog that could never trip is refused with one line naming the
key, the value and the bound. The simulator's looser frame (``sim-kitchen``: the kitchen's world
frame and model joint ranges, 2.5 cm steps for the demo) is a separately named profile chosen in
code by the simulator backend or a ``kind: sim`` task; a limits file cannot select it.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from vipflow.config_schema import parse_yaml
from vipflow.hardware.envelope import Envelope
from vipflow.hardware.franka import FRANKA_ENVELOPE, GRIPPER_MAX_WIDTH_M, Q_MAX, Q_MIN
from vipflow.hardware.simulator import KITCHEN_ENVELOPE, KITCHEN_Q_MAX, KITCHEN_Q_MIN

NOMINAL_RATE_HZ = 25.0  # the rate limits files are written for (and checked at on load)
PROFILES: dict[str, Envelope] = {"franka": FRANKA_ENVELOPE, "sim-kitchen": KITCHEN_ENVELOPE}
SIM_PROFILE = "sim-kitchen"


class LimitsError(ValueError):
    """Safety limits are malformed or beyond the hardware; the message names the key and the bound."""


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
    min: tuple[float, ...] = Q_MIN
    max: tuple[float, ...] = Q_MAX
    margin_rad: float = 0.1


@dataclass(frozen=True)
class GripperLimits:
    min_width_m: float = 0.0
    max_width_m: float = GRIPPER_MAX_WIDTH_M


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
    # the Franka kinematics; "none": check each target only in its own space (simulator only).
    kinematics: str = "franka"
    profile: str = field(
        default="franka",
        metadata={"help": "envelope the limits are checked against: the arm (franka) or the simulated "
                          "kitchen (sim-kitchen, simulator only)", "choices": tuple(PROFILES)},
    )

    def __post_init__(self) -> None:
        _validate(self, NOMINAL_RATE_HZ)

    @property
    def envelope(self) -> Envelope:
        return PROFILES[self.profile]

    @property
    def q_min(self) -> np.ndarray:
        return np.asarray(self.joints.min, dtype=np.float64) + self.joints.margin_rad

    @property
    def q_max(self) -> np.ndarray:
        return np.asarray(self.joints.max, dtype=np.float64) - self.joints.margin_rad

    def check(self, rate_hz: float) -> None:
        """Raise ``LimitsError`` unless every value is inside the envelope at ``rate_hz``."""
        _validate(self, rate_hz)

    def within_envelope(self, rate_hz: float) -> SafetyLimits:
        """These limits with every value clamped into the profile's envelope at ``rate_hz``.

        The safety layer applies this to whatever it is handed (its last line of defence): a
        valid set comes back unchanged; one that bypassed validation, or was checked for a
        slower loop, is tightened (NaN counts as the bound). What cannot be made consistent
        raises ``LimitsError``.
        """
        env = PROFILES.get(self.profile, FRANKA_ENVELOPE)
        bounds = env.step_bounds(max(rate_hz, NOMINAL_RATE_HZ))  # a slower loop keeps the 25 Hz steps
        s, w, j, g, wd = self.step, self.workspace, self.joints, self.gripper, self.watchdog
        try:
            return SafetyLimits(
                step=StepLimits(*(_cap(getattr(s, k), hi) for k, hi in bounds.items())),
                workspace=WorkspaceBox(_clip(w.min, env.workspace_min, env.workspace_max),
                                       _clip(w.max, env.workspace_min, env.workspace_max)),
                joints=JointLimits(_clip(j.min, env.q_min, env.q_max), _clip(j.max, env.q_min, env.q_max),
                                   max(0.0, _cap(j.margin_rad, math.inf))),
                gripper=GripperLimits(max(0.0, _cap(g.min_width_m, env.gripper_max_m)),
                                      max(0.0, _cap(g.max_width_m, env.gripper_max_m))),
                watchdog=WatchdogLimits(
                    _cap(wd.max_observation_age_s, env.watchdog_max_age_s),
                    _cap(wd.max_state_age_s, env.watchdog_max_age_s),
                    int(_cap(wd.stale_ticks, env.watchdog_max_stale_ticks)),
                ),
                kinematics=self.kinematics if self.kinematics in env.kinematics else env.kinematics[0],
                profile=env.name,
            )
        except (TypeError, ValueError, OverflowError) as exc:  # LimitsError is a ValueError too
            raise LimitsError(f"safety limits cannot be clamped into the {env.name} envelope: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for section in ("workspace", "joints"):
            out[section] = {k: list(v) if isinstance(v, tuple) else v for k, v in out[section].items()}
        return out


def _cap(value: Any, hi: float) -> float:
    v = float(value)
    return hi if math.isnan(v) else min(v, hi)


def _clip(values: Any, lo: Any, hi: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in np.clip(np.nan_to_num(np.asarray(values, float), nan=0.0), lo, hi))


_SECTIONS = {
    "step": StepLimits,
    "workspace": WorkspaceBox,
    "joints": JointLimits,
    "gripper": GripperLimits,
    "watchdog": WatchdogLimits,
}
_TIGHTEN = "limits may only tighten the arm's own"


def _number(key: str, value: Any, bound: str, *, integer: bool = False) -> float:
    """``value`` as a finite float (or int), else a one-line LimitsError naming key, value, bound."""
    kind = "an integer" if integer else "a number"
    wanted = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, wanted):
        raise LimitsError(f"{key} = {value!r} is not {kind} ({type(value).__name__}); bound: {bound}")
    if not math.isfinite(value):
        raise LimitsError(f"{key} = {value} is not finite; bound: {bound}; {_TIGHTEN}")
    return int(value) if integer else float(value)


def _vector(key: str, value: Any, size: int, bounds: list[str]) -> np.ndarray:
    if isinstance(value, str | bytes) or not hasattr(value, "__len__") or len(value) != size:
        raise LimitsError(f"{key}: expected a list of {size} numbers, got {value!r}")
    return np.array([_number(f"{key}[{i}]", v, bounds[i]) for i, v in enumerate(value)])


def _validate(lim: SafetyLimits, rate_hz: float) -> None:
    """Types, finiteness, consistency, then the envelope of ``lim.profile`` at ``rate_hz``."""

    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise LimitsError(msg)

    need(isinstance(lim.profile, str) and lim.profile in PROFILES,
         f"profile: {lim.profile!r} is not one of {sorted(PROFILES)}")
    env = PROFILES[lim.profile]

    def within(key: str, value: float, bound: str, ok: bool) -> None:
        need(ok, f"{key} = {value:.6g} is beyond the {env.name} envelope ({bound}); {_TIGHTEN}")

    tick = f"per tick at {rate_hz:g} Hz"
    step_bounds = env.step_bounds(rate_hz)
    speeds = {
        "max_translation_m": f"{env.ee_speed:g} m/s",
        "max_rotation_rad": f"{env.ee_rotation_speed:g} rad/s",
        "max_joint_rad": f"{min(env.dq_max):g} rad/s",
    }
    for name, hi in step_bounds.items():
        key, raw = f"step.{name}", getattr(lim.step, name)
        bound = f"<= {hi:.6g} {'m' if name.endswith('_m') else 'rad'} {tick} ({speeds[name]})"
        value = _number(key, raw, bound)
        need(value > 0, f"{key} must be a positive number, got {raw}")
        within(key, value, bound, value <= hi + 1e-12)

    reach = [f"{env.workspace_min[i]:g}..{env.workspace_max[i]:g} m: the arm's reach" for i in range(3)]
    lo = _vector("workspace.min", lim.workspace.min, 3, reach)
    hi = _vector("workspace.max", lim.workspace.max, 3, reach)
    need(bool(np.all(lo < hi)), f"workspace.min {lo.tolist()} must be below workspace.max {hi.tolist()}")
    for i in range(3):
        within(f"workspace.min[{i}]", lo[i], reach[i], lo[i] >= env.workspace_min[i] - 1e-12)
        within(f"workspace.max[{i}]", hi[i], reach[i], hi[i] <= env.workspace_max[i] + 1e-12)

    ranges = [f"{env.q_min[i]:g}..{env.q_max[i]:g} rad: joint {i + 1}'s range" for i in range(7)]
    qlo = _vector("joints.min", lim.joints.min, 7, ranges)
    qhi = _vector("joints.max", lim.joints.max, 7, ranges)
    for i in range(7):
        within(f"joints.min[{i}]", qlo[i], ranges[i], qlo[i] >= env.q_min[i] - 1e-12)
        within(f"joints.max[{i}]", qhi[i], ranges[i], qhi[i] <= env.q_max[i] + 1e-12)
    margin = _number("joints.margin_rad", lim.joints.margin_rad, ">= 0 rad")
    need(margin >= 0, "joints.margin_rad must be >= 0")
    need(
        bool(np.all(qlo + margin < qhi - margin)),
        "joints: min + margin_rad must stay below max - margin_rad for every joint",
    )

    opening = f"0..{env.gripper_max_m:g} m: the hand's opening"
    g_lo = _number("gripper.min_width_m", lim.gripper.min_width_m, opening)
    g_hi = _number("gripper.max_width_m", lim.gripper.max_width_m, opening)
    need(0 <= g_lo < g_hi, "gripper: need 0 <= min_width_m < max_width_m (metres)")
    within("gripper.max_width_m", g_hi, opening, g_hi <= env.gripper_max_m + 1e-12)

    w = lim.watchdog
    age = f"0 < age <= {env.watchdog_max_age_s:g} s: a watchdog cannot be switched off"
    for name in ("max_observation_age_s", "max_state_age_s"):
        key = f"watchdog.{name}"
        value = _number(key, getattr(w, name), age)
        need(value > 0, f"{key} = {value} s: watchdog ages must be positive seconds")
        within(key, value, age, value <= env.watchdog_max_age_s + 1e-12)
    max_ticks = env.watchdog_max_stale_ticks
    stale = f"1..{max_ticks} ticks: a watchdog cannot be switched off"
    ticks = _number("watchdog.stale_ticks", w.stale_ticks, stale, integer=True)
    need(ticks >= 1, "watchdog.stale_ticks must be >= 1")
    within("watchdog.stale_ticks", ticks, stale, ticks <= max_ticks)

    need(isinstance(lim.kinematics, str) and lim.kinematics in ("franka", "none"),
         f"kinematics: 'franka' or 'none', got {lim.kinematics!r}")
    need(
        lim.kinematics in env.kinematics,
        f"kinematics = {lim.kinematics!r} is beyond the {env.name} envelope (allowed: "
        f"{list(env.kinematics)}; without the Franka kinematics the joint range of Cartesian targets "
        f"goes unchecked); {_TIGHTEN}",
    )


def limits_from_dict(data: dict[str, Any], *, profile: str = "franka") -> SafetyLimits:
    """Build limits from a (possibly partial) mapping; missing keys keep the profile's defaults.

    ``profile`` is chosen by the caller (the simulator backend, a ``kind: sim`` task), never by
    the mapping: a file cannot widen its own envelope.
    """
    if not isinstance(data, dict):
        raise LimitsError(f"safety limits must be a mapping of sections, got {type(data).__name__}")
    if "profile" in data:
        raise LimitsError(
            f"profile: {data['profile']!r} cannot be set in a limits file; the simulator backend selects "
            "its own profile, real robots always use 'franka'"
        )
    unknown = set(data) - set(_SECTIONS) - {"kinematics"}
    if unknown:
        raise LimitsError(f"unknown safety-limit sections {sorted(unknown)}; allowed: {sorted(_SECTIONS)}")
    base = profile_limits(profile)
    kwargs: dict[str, Any] = {"kinematics": data.get("kinematics", base.kinematics), "profile": profile}
    for name, cls in _SECTIONS.items():
        section = data.get(name)
        if section is None:
            section = {}
        if not isinstance(section, dict):
            raise LimitsError(f"{name}: expected a mapping of keys, got {section!r}")
        allowed = {f.name for f in fields(cls)}
        bad = set(section) - allowed
        if bad:
            raise LimitsError(f"unknown keys {sorted(bad)} in section {name!r}; allowed: {sorted(allowed)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in section.items()}
        kwargs[name] = replace(getattr(base, name), **values)
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


# The simulator's profile: the demos move the hand up to ~2 cm per 40 ms tick, and the hardware
# defaults (1 cm) would make every policy slower than the demonstrations it imitates; rotation
# and joints scale alike. Workspace and joint ranges are the kitchen's (world frame, model ranges);
# the simulator backend narrows the box to the task.
SIM_KITCHEN_LIMITS = SafetyLimits(
    step=StepLimits(max_translation_m=0.025, max_rotation_rad=0.1, max_joint_rad=0.06),
    workspace=WorkspaceBox(min=(-1.0, 0.0, 1.5), max=(0.6, 1.2, 3.0)),
    joints=JointLimits(min=KITCHEN_Q_MIN, max=KITCHEN_Q_MAX, margin_rad=0.05),
    kinematics="none",
    profile=SIM_PROFILE,
)


def profile_limits(profile: str) -> SafetyLimits:
    """The default limits of a profile: the conservative hardware set, or the simulator's."""
    if profile not in PROFILES:
        raise LimitsError(f"profile: {profile!r} is not one of {sorted(PROFILES)}")
    return SIM_KITCHEN_LIMITS if profile == SIM_PROFILE else SafetyLimits()
