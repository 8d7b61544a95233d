"""The hardware envelope (issue 12, finding 1): limits may only tighten the arm's own.

Limits files beyond it, of the wrong type, non-finite, or with a watchdog that could never trip
are refused at load with one line naming key, value and bound; the safety layer clamps to it
even when handed limits that skipped validation; the simulator's looser profile is separately
named and only the simulator takes it. A property test drives random limit files and random
policy outputs through the layer: no emitted target leaves the envelope.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from vipflow.config_schema import ConfigError, from_flat
from vipflow.evaluation.backend import HardwareBackend
from vipflow.hardware import RobotState
from vipflow.hardware.fake import FakeCamera, FakeRobot, ManualClock
from vipflow.hardware.franka import (
    FR3_Q_MAX,
    FRANKA_ENVELOPE,
    HOME_Q,
    PANDA_Q_MAX,
    Q_MAX,
    Q_MIN,
    forward_kinematics,
    jacobian,
)
from vipflow.runtime.limits import (
    SIM_KITCHEN_LIMITS,
    SIM_PROFILE,
    GripperLimits,
    JointLimits,
    LimitsError,
    SafetyLimits,
    StepLimits,
    WatchdogLimits,
    WorkspaceBox,
    limits_from_dict,
    load_limits,
    profile_limits,
)
from vipflow.runtime.loop import ControlLoop
from vipflow.runtime.safety import Hold, SafetyLayer
from vipflow.task_config import TaskConfig, TaskConfigError, load_task_config

REPO = Path(__file__).resolve().parents[2]
ENV = FRANKA_ENVELOPE
STEP = ENV.step_bounds(25.0)  # per 40 ms tick: 0.068 m, 0.1 rad, 0.087 rad per joint
TOL = 1e-9


def state_at(q, gripper=0.04) -> RobotState:
    q = np.asarray(q, dtype=np.float64)
    return RobotState(0, q, np.zeros(7), forward_kinematics(q), gripper)


def unchecked(**sections) -> SafetyLimits:
    """Limits built in code past validation (e.g. ``object.__setattr__`` on a frozen instance)."""
    limits = SafetyLimits()
    for name, value in sections.items():
        object.__setattr__(limits, name, value)
    return limits


# ---- the arm's own numbers, once -----------------------------------------------------------------
def test_envelope_is_the_intersection_of_fr3_and_panda_at_the_loop_rate():
    assert Q_MAX[0] == FR3_Q_MAX[0] == 2.7437 and Q_MAX[5] == PANDA_Q_MAX[5] == 3.7525
    assert SafetyLimits().joints.min == Q_MIN and SafetyLimits().gripper.max_width_m == 0.08
    assert STEP["max_translation_m"] == pytest.approx(1.7 / 25)  # Panda's 1.7 m/s (FR3: 3.0)
    assert STEP["max_rotation_rad"] == pytest.approx(2.5 / 25)
    assert STEP["max_joint_rad"] == pytest.approx(2.175 / 25)
    assert ENV.step_bounds(100.0)["max_translation_m"] == pytest.approx(0.017)  # faster loop, smaller steps


# ---- finding 1: each loosened value is refused at load, in one line -----------------------------------
FINDING_1 = [
    ({"joints": {"min": [-10.0] * 7, "max": [10.0] * 7}}, "joints.min[0] = -10", "-2.7437..2.7437 rad"),
    ({"joints": {"max": [10.0] * 7}}, "joints.max[0] = 10", "-2.7437..2.7437 rad"),
    ({"step": {"max_translation_m": 10.0}}, "step.max_translation_m = 10", "<= 0.068 m per tick at 25 Hz"),
    ({"step": {"max_rotation_rad": 10.0}}, "step.max_rotation_rad = 10", "<= 0.1 rad per tick at 25 Hz"),
    ({"step": {"max_joint_rad": 10.0}}, "step.max_joint_rad = 10", "<= 0.087 rad per tick at 25 Hz"),
    ({"gripper": {"max_width_m": 1.0}}, "gripper.max_width_m = 1", "0..0.08 m"),
    ({"workspace": {"min": [-math.inf] * 3, "max": [math.inf] * 3}}, "workspace.min[0] = -inf",
     "-1.2..1.2 m"),
    ({"workspace": {"max": [0.75, 0.4, 10.0]}}, "workspace.max[2] = 10", "-0.867..1.533 m"),
    ({"watchdog": {"max_observation_age_s": math.inf}}, "watchdog.max_observation_age_s = inf", "<= 1 s"),
    ({"watchdog": {"max_state_age_s": 3600.0}}, "watchdog.max_state_age_s = 3600", "<= 1 s"),
    ({"watchdog": {"stale_ticks": "5"}}, "watchdog.stale_ticks = '5' is not an integer (str)",
     "1..250 ticks"),
    ({"watchdog": {"stale_ticks": 10**9}}, "watchdog.stale_ticks = 1e+09", "1..250 ticks"),
    ({"watchdog": {"stale_ticks": 5.0}}, "watchdog.stale_ticks = 5.0 is not an integer (float)", "1..250"),
    ({"step": {"max_translation_m": math.nan}}, "step.max_translation_m = nan is not finite", "<= 0.068 m"),
    ({"step": {"max_translation_m": "0.01"}}, "step.max_translation_m = '0.01' is not a number", "<= 0.068"),
    ({"step": {"max_translation_m": True}}, "step.max_translation_m = True is not a number (bool)", "0.068"),
    ({"kinematics": "none"}, "kinematics = 'none' is beyond the franka envelope", "joint range"),
    ({"profile": "sim-kitchen"}, "profile: 'sim-kitchen' cannot be set in a limits file", "simulator"),
]


def _ids(cases: list) -> list[str]:
    return [case[1].split(" ")[0] for case in cases]


@pytest.mark.parametrize(("data", "names", "bound"), FINDING_1, ids=_ids(FINDING_1))
def test_loosened_limits_file_is_refused_with_one_line(tmp_path, data, names, bound):
    path = tmp_path / "limits.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(LimitsError) as err:
        load_limits(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert names in message and bound in message, message


@pytest.mark.parametrize(("data", "names", "bound"), FINDING_1[:12], ids=_ids(FINDING_1[:12]))
def test_task_overrides_and_node_parameters_are_refused_alike(tmp_path, data, names, bound):
    task = TaskConfig(task="t", source=str(tmp_path / "t.yaml"))
    base = str(REPO / "config" / "safety_default.yaml")
    safety = dataclasses.replace(task.safety, limits=base, overrides=data)
    with pytest.raises(TaskConfigError, match="safety: ") as err:
        dataclasses.replace(task, safety=safety).safety_limits()
    assert names in str(err.value) and bound in str(err.value) and "\n" not in str(err.value)
    # ROS parameters (safety.* of the policy and evaluate nodes) go through the same schema.
    flat = {f"{section}.{key}": value for section, keys in data.items() for key, value in keys.items()}
    with pytest.raises(ConfigError):
        from_flat(SafetyLimits, flat)


def test_tightening_is_accepted_and_the_defaults_file_loads(tmp_path):
    path = tmp_path / "tight.yaml"
    path.write_text("step: {max_translation_m: 0.005}\njoints: {min: [-1, -1, -1, -2, -1, 1, -1]}\n")
    limits = load_limits(path)
    assert limits.step.max_translation_m == 0.005 and limits.profile == "franka"
    with pytest.raises(LimitsError, match="not finite"):
        SafetyLimits(step=StepLimits(max_translation_m=math.inf))  # in code as well as in files


# ---- the last line of defence: limits that skipped validation are clamped -------------------------------
def test_safety_layer_clamps_limits_built_past_validation_to_the_envelope():
    loose = unchecked(
        step=StepLimits(max_translation_m=10.0, max_rotation_rad=10.0, max_joint_rad=10.0),
        joints=JointLimits(min=(-10.0,) * 7, max=(10.0,) * 7, margin_rad=0.0),
        gripper=GripperLimits(0.0, 1.0),
        workspace=WorkspaceBox((-math.inf,) * 3, (math.inf,) * 3),
        watchdog=WatchdogLimits(math.inf, math.inf, 10**9),
        kinematics="none",
    )
    layer = SafetyLayer(loose, action_space="joint_delta")
    assert layer.limits.step.max_joint_rad == pytest.approx(STEP["max_joint_rad"])
    assert layer.limits.joints.max == Q_MAX and layer.limits.watchdog.stale_ticks == 250
    assert layer.limits.watchdog.max_state_age_s == 1.0 and layer.limits.kinematics == "franka"
    # Finding 1: joint 1 near its limit, the policy asks for +3.5 rad and a 0.5 m gripper.
    q = HOME_Q.copy()
    q[0] = 2.70
    out = layer.filter(state_at(q), np.array([3.5, 0, 0, 0, 0, 0, 0, 0.5]))
    assert not isinstance(out, Hold)
    assert out.joint_pos[0] <= Q_MAX[0] + TOL and out.joint_pos[0] - q[0] <= STEP["max_joint_rad"] + TOL
    assert out.gripper_width <= 0.08 + TOL


def test_a_faster_loop_gets_smaller_steps_and_a_mismatched_layer_is_refused():
    layer = SafetyLayer(rate_hz=100.0)
    assert layer.limits.step.max_rotation_rad == pytest.approx(0.025)  # 2.5 rad/s at 100 Hz (file: 0.05)
    clock = ManualClock()
    with pytest.raises(ValueError, match=r"envelope is for 25\.0 Hz"):
        ControlLoop(FakeCamera(clock), FakeRobot(clock), object(), _Policy(), SafetyLayer(), clock, 50.0)
    ControlLoop(FakeCamera(clock), FakeRobot(clock), object(), _Policy(), layer, clock, 50.0)  # slower: fine
    with pytest.raises(LimitsError, match=r"max_translation_m = 0\.05 .*<= 0\.017 m per tick at 100 Hz"):
        SafetyLimits(step=StepLimits(max_translation_m=0.05)).check(100.0)


class _Policy:
    action_space = "ee_delta"


# ---- the simulator profile --------------------------------------------------------------------------
def test_sim_profile_is_named_selected_in_code_and_refused_by_real_arms():
    sim = profile_limits(SIM_PROFILE)
    assert sim is SIM_KITCHEN_LIMITS and sim.step.max_translation_m == 0.025 and sim.kinematics == "none"
    with pytest.raises(LimitsError, match=r"workspace\.max\[2\] = 3 is beyond the franka envelope"):
        dataclasses.replace(sim, profile="franka")  # the kitchen's world frame is not the arm's
    clock = ManualClock()
    arm = HardwareBackend(FakeCamera(clock), FakeRobot(clock), clock, name="franky")
    with pytest.raises(LimitsError, match="profile 'sim-kitchen' is not accepted by the franky backend"):
        arm.limits(sim)
    assert arm.limits(SafetyLimits()) == SafetyLimits()
    tasks = REPO / "config" / "tasks"
    assert load_task_config(tasks / "slide_cabinet.yaml").safety_limits().profile == SIM_PROFILE
    assert load_task_config(tasks / "close_drawer.yaml").safety_limits().profile == "franka"


# ---- property: random limit files x random policy outputs never leave the envelope ----------------------
def _angle(qa, qb) -> float:
    return float((Rotation.from_quat(qa) * Rotation.from_quat(qb).inv()).magnitude())


big = st.one_of(st.floats(0.2, 1e6), st.sampled_from([math.inf, 1e308, math.nan]))  # loosened past the arm
nasty = st.one_of(st.floats(-1e6, 0.0), st.text(max_size=3), st.booleans(), st.none())  # unusable
small = st.floats(1e-4, 0.2)


def limit_files(scalar, junk: bool):
    """Limits files whose values are inside the arm's envelope, loosened past it, or (``junk``)
    also negative, strings, booleans and nulls."""

    def bounds(inner, side: int):
        """Lower (side -1) or upper (+1) bounds: up to 0.3 inside ``inner``, or loosened past it."""
        n = len(inner)
        inside = st.lists(st.floats(0.0, 0.3), min_size=n, max_size=n).map(
            lambda d: [float(v) - side * x for v, x in zip(inner, d, strict=True)]
        )
        loose = st.one_of(st.floats(-0.3, 0.0), big, *([nasty] if junk else [])).map(
            lambda x: x if isinstance(x, str | bool) or x is None else side * x
        )
        picks = st.lists(st.booleans(), min_size=n, max_size=n)
        mixed = st.tuples(inside, st.lists(loose, min_size=n, max_size=n), picks).map(
            lambda t: [b if pick else a for a, b, pick in zip(*t, strict=True)]
        )
        return st.one_of(inside, mixed)

    def section(**keys):
        return st.fixed_dictionaries({}, optional=keys)

    ticks = st.one_of(st.integers(1, 20), st.integers(1, 10**9), big, *([nasty] if junk else []))
    return section(
        step=section(max_translation_m=scalar, max_rotation_rad=scalar, max_joint_rad=scalar),
        workspace=section(min=bounds((-0.3, -0.3, 0.0), -1), max=bounds((1.0, 0.3, 0.9), +1)),
        joints=section(min=bounds(Q_MIN, -1), max=bounds(Q_MAX, +1), margin_rad=small),
        gripper=section(min_width_m=st.just(0.0), max_width_m=scalar),
        watchdog=section(max_observation_age_s=scalar, max_state_age_s=scalar, stale_ticks=ticks),
        kinematics=st.sampled_from(["franka", "none"]),
    )


files = st.one_of(
    limit_files(st.one_of(small, big), junk=False),  # loosened: refused at load, clamped in the layer
    limit_files(st.one_of(small, big), junk=False),
    limit_files(st.one_of(small, big, nasty), junk=True),  # damaged: refused at load and in the layer
)
states = st.one_of(
    st.just(HOME_Q),
    st.lists(st.floats(-0.25, 0.25), min_size=7, max_size=7).map(lambda d: HOME_Q + np.asarray(d)),
    st.lists(st.floats(0.0, 1.0), min_size=7, max_size=7).map(
        lambda u: np.asarray(Q_MIN) + np.asarray(u) * (np.asarray(Q_MAX) - np.asarray(Q_MIN))
    ),
)
finite = st.one_of(st.floats(-0.2, 0.2), st.floats(-20, 20), st.sampled_from([1e308, -1e308, 0.0]))
anything = st.one_of(finite, st.sampled_from([math.nan, math.inf, -math.inf]))


def actions(n: int):
    """Policy outputs: mostly finite (huge included), sometimes with NaN/inf somewhere."""
    clean = st.lists(finite, min_size=n, max_size=n)
    return st.one_of(clean, clean, clean, st.lists(anything, min_size=n, max_size=n))


def _layer(data: dict, space: str) -> SafetyLayer | None:
    """The layer a session would build: from the file if it loads, else from the same values
    forced past validation (the last line of defence must hold for those too)."""
    try:
        limits = limits_from_dict(data)
        event("limits file: loaded")
    except LimitsError:
        event("limits file: refused at load")
        try:
            sections = {
                name: dataclasses.replace(
                    getattr(SafetyLimits(), name), **{k: tuple(v) if isinstance(v, list) else v
                                                      for k, v in data[name].items()}
                )
                for name in ("step", "workspace", "joints", "gripper", "watchdog") if name in data
            }
            if "kinematics" in data:
                sections["kinematics"] = data["kinematics"]
            limits = unchecked(**sections)
        except (TypeError, ValueError):
            return None
    try:
        layer = SafetyLayer(limits, action_space=space)
    except LimitsError:
        event("layer: refused (cannot clamp)")
        return None
    if layer.limits != limits:
        event("layer: clamped into the envelope")
    return layer


def _check_envelope(out, state: RobotState, space: str) -> None:
    assert 0.0 - TOL <= out.gripper_width <= ENV.gripper_max_m + TOL
    q = np.asarray(state.joint_pos)
    if space == "joint_delta":
        qt = out.joint_pos
        assert np.all(np.isfinite(qt))
        assert np.max(np.abs(qt - q)) <= STEP["max_joint_rad"] + TOL
        assert np.all(qt >= np.asarray(ENV.q_min) - TOL) and np.all(qt <= np.asarray(ENV.q_max) + TOL)
        hand = forward_kinematics(qt)
    else:
        hand = out.ee_pose
        assert np.all(np.isfinite(hand)) and abs(np.linalg.norm(hand[3:]) - 1) < 1e-9
        # Joints of a Cartesian target, to first order (how the arm resolves its redundancy over a
        # whole step is its controller's business): the damped least-squares step from q.
        rot = Rotation.from_quat(hand[3:]) * Rotation.from_quat(state.ee_pose[3:]).inv()
        dx = np.concatenate([hand[:3] - state.ee_pose[:3], rot.as_rotvec()])
        j = jacobian(q)
        q_next = q + j.T @ np.linalg.solve(j @ j.T + 1e-4 * np.eye(6), dx)
        assert np.all(q_next >= np.asarray(ENV.q_min) - 1e-6)
        assert np.all(q_next <= np.asarray(ENV.q_max) + 1e-6)
    assert np.linalg.norm(hand[:3] - state.ee_pose[:3]) <= STEP["max_translation_m"] + 1e-6
    assert _angle(hand[3:], state.ee_pose[3:]) <= STEP["max_rotation_rad"] + 1e-6
    assert np.all(hand[:3] >= np.asarray(ENV.workspace_min) - TOL)
    assert np.all(hand[:3] <= np.asarray(ENV.workspace_max) + TOL)


def _property(data, q, action, space):
    layer = _layer(data, space)
    if layer is None:
        return
    state = state_at(q)
    out = layer.filter(state, np.asarray(action, dtype=np.float64))
    event("hold" if isinstance(out, Hold) else "target")
    if not isinstance(out, Hold):
        _check_envelope(out, state, space)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=files, q=states, action=actions(7))
def test_property_ee_delta_targets_stay_inside_the_envelope(data, q, action):
    _property(data, q, action, "ee_delta")


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=files, q=states, action=actions(8))
def test_property_joint_delta_targets_stay_inside_the_envelope(data, q, action):
    _property(data, q, action, "joint_delta")
