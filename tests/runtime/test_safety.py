"""The safety layer: each limit, the hold cases, the YAML limits, and a property test that no
command outside the limits ever leaves it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from vipflow.hardware import RobotState
from vipflow.hardware.franka import HOME_Q, forward_kinematics, inverse_kinematics
from vipflow.runtime.limits import LimitsError, SafetyLimits, load_limits
from vipflow.runtime.safety import Hold, SafetyLayer

REPO = Path(__file__).resolve().parents[2]
LIMITS = SafetyLimits()


def state_at(q, gripper=0.04) -> RobotState:
    q = np.asarray(q, dtype=np.float64)
    return RobotState(0, q, np.zeros(7), forward_kinematics(q), gripper)


def test_default_yaml_equals_builtin_defaults():
    assert load_limits(REPO / "config" / "safety_default.yaml") == SafetyLimits()


def test_limits_file_errors_name_the_problem(tmp_path):
    bad = tmp_path / "l.yaml"
    bad.write_text("workspace: {min: [0, 0, 0], max: [1, -1, 1]}\n")
    with pytest.raises(LimitsError, match=r"workspace.min .* must be below"):
        load_limits(bad)
    bad.write_text("step: {max_translation: 0.1}\n")
    with pytest.raises(LimitsError, match=r"unknown keys.*max_translation"):
        load_limits(bad)
    with pytest.raises(LimitsError, match="not found"):
        load_limits(tmp_path / "missing.yaml")
    partial = tmp_path / "p.yaml"
    partial.write_text("step: {max_translation_m: 0.005}\n")
    lim = load_limits(partial)
    assert lim.step.max_translation_m == 0.005 and lim.workspace == SafetyLimits().workspace


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_action_holds(bad):
    layer = SafetyLayer()
    action = np.array([0.001, 0, 0, 0, 0, 0, 0.04])
    action[2] = bad
    out = layer.filter(state_at(HOME_Q), action)
    assert isinstance(out, Hold) and "non-finite" in out.reason
    assert layer.report.passed == 0


def test_wrong_action_size_holds():
    out = SafetyLayer().filter(state_at(HOME_Q), np.zeros(8))
    assert isinstance(out, Hold) and "7 values" in out.reason


def test_step_clamp_keeps_direction():
    layer = SafetyLayer()
    s = state_at(HOME_Q)
    out = layer.filter(s, np.array([0.3, 0.4, 0.0, 0.0, 0.0, 1.0, 0.04]))
    dp = out.ee_pose[:3] - s.ee_pose[:3]
    assert np.linalg.norm(dp) == pytest.approx(0.01)
    np.testing.assert_allclose(dp / np.linalg.norm(dp), [0.6, 0.8, 0.0], atol=1e-9)
    angle = (Rotation.from_quat(out.ee_pose[3:]) * Rotation.from_quat(s.ee_pose[3:]).inv()).magnitude()
    assert angle == pytest.approx(0.05)
    assert layer.report.clamped["translation"] == 1 and layer.report.clamped["rotation"] == 1


def test_out_of_box_target_is_clipped_to_the_wall():
    layer = SafetyLayer()
    q = inverse_kinematics(np.r_[0.5, 0.0, 0.055, forward_kinematics(HOME_Q)[3:]], HOME_Q)
    s = state_at(q)
    out = layer.filter(s, np.array([0.0, 0.005, -0.008, 0, 0, 0, 0.04]))
    assert out.ee_pose[2] == pytest.approx(LIMITS.workspace.min[2])  # z stops at the floor
    assert out.ee_pose[1] - s.ee_pose[1] == pytest.approx(0.005)  # sliding along it is allowed


def test_robot_outside_the_box_holds_with_a_reason():
    q = inverse_kinematics(np.r_[0.2, 0.0, 0.4, forward_kinematics(HOME_Q)[3:]], HOME_Q)
    out = SafetyLayer().filter(state_at(q), np.array([0.01, 0, 0, 0, 0, 0, 0.04]))
    assert isinstance(out, Hold) and "outside the workspace box" in out.reason


def test_gripper_is_clipped():
    out = SafetyLayer().filter(state_at(HOME_Q), np.array([0, 0, 0, 0, 0, 0, 0.5]))
    assert out.gripper_width == pytest.approx(0.08)


def test_joint_space_limits_with_margin():
    layer = SafetyLayer(action_space="joint_delta")
    q = HOME_Q.copy()
    q[6] = LIMITS.q_max[6] - 0.005  # wrist joint close to its upper limit - margin
    out = layer.filter(state_at(q), np.array([0, 0, 0, 0, 0, 0, 0.5, 0.04]))
    assert out.joint_pos[6] == pytest.approx(LIMITS.q_max[6])
    q[6] = LIMITS.q_max[6] + 0.01  # inside the margin, one step from safety: pulled back out
    out = layer.filter(state_at(q), np.array([0, 0, 0, 0, 0, 0, 0.02, 0.04]))
    assert out.joint_pos[6] == pytest.approx(LIMITS.q_max[6])
    q[6] = LIMITS.q_max[6] + 0.05  # deeper than one step: no safe target exists
    out = layer.filter(state_at(q), np.zeros(8))
    assert isinstance(out, Hold) and "joint 7" in out.reason


def test_cartesian_target_that_would_break_a_joint_limit_is_shrunk():
    q = HOME_Q.copy()
    q[0] = LIMITS.q_max[0] - 1e-4  # base joint at its limit; +y motion needs it to turn further
    layer = SafetyLayer()
    s = state_at(q)
    out = layer.filter(s, np.array([0, 0.01, 0, 0, 0, 0, 0.04]) * np.sign(np.cos(q[0])))
    assert isinstance(out, Hold) or np.linalg.norm(out.ee_pose[:3] - s.ee_pose[:3]) < 0.01
    assert layer.report.clamped["scaled_down"] + layer.report.holds.total() >= 1


# ---- property: nothing outside the limits ever leaves ------------------------------------------
finite_or_not = st.one_of(
    st.floats(-0.05, 0.05),
    st.floats(-10, 10),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
)
joint_state = st.lists(st.floats(0.0, 1.0), min_size=7, max_size=7).map(
    lambda u: LIMITS.q_min - 0.05 + np.asarray(u) * (LIMITS.q_max - LIMITS.q_min + 0.1)
)

near_home = st.lists(st.floats(-0.4, 0.4), min_size=7, max_size=7).map(lambda d: HOME_Q + np.asarray(d))
states = st.one_of(near_home, joint_state, st.just(HOME_Q))


def _rot_angle(qa, qb):
    return (Rotation.from_quat(qa) * Rotation.from_quat(qb).inv()).magnitude()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(q=states, action=st.lists(finite_or_not, min_size=7, max_size=7))
def test_property_ee_delta_never_emits_an_unsafe_target(q, action):
    s = state_at(q)
    out = SafetyLayer().filter(s, np.asarray(action))
    event("hold" if isinstance(out, Hold) else "target")
    if isinstance(out, Hold):
        return
    p = out.ee_pose
    assert np.all(np.isfinite(p)) and np.isfinite(out.gripper_width)
    assert abs(np.linalg.norm(p[3:]) - 1) < 1e-9
    assert np.linalg.norm(p[:3] - s.ee_pose[:3]) <= LIMITS.step.max_translation_m + 1e-9
    assert _rot_angle(p[3:], s.ee_pose[3:]) <= LIMITS.step.max_rotation_rad + 1e-9
    assert np.all(p[:3] >= np.asarray(LIMITS.workspace.min) - 1e-9)
    assert np.all(p[:3] <= np.asarray(LIMITS.workspace.max) + 1e-9)
    assert LIMITS.gripper.min_width_m <= out.gripper_width <= LIMITS.gripper.max_width_m
    q_reached = inverse_kinematics(p, q)  # where the arm's joints end up for this target
    if np.linalg.norm(forward_kinematics(q_reached)[:3] - p[:3]) < 1e-6:
        assert np.all(q_reached >= LIMITS.q_min - 2e-3) and np.all(q_reached <= LIMITS.q_max + 2e-3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(q=states, action=st.lists(finite_or_not, min_size=8, max_size=8))
def test_property_joint_delta_never_emits_an_unsafe_target(q, action):
    s = state_at(q)
    out = SafetyLayer(action_space="joint_delta").filter(s, np.asarray(action))
    event("hold" if isinstance(out, Hold) else "target")
    if isinstance(out, Hold):
        return
    qt = out.joint_pos
    assert np.all(np.isfinite(qt)) and np.isfinite(out.gripper_width)
    assert np.max(np.abs(qt - q)) <= LIMITS.step.max_joint_rad + 1e-9
    assert np.all(qt >= LIMITS.q_min - 1e-9) and np.all(qt <= LIMITS.q_max + 1e-9)
    hand = forward_kinematics(qt)
    assert np.all(hand[:3] >= np.asarray(LIMITS.workspace.min) - 1e-9)
    assert np.all(hand[:3] <= np.asarray(LIMITS.workspace.max) + 1e-9)
    assert np.linalg.norm(hand[:3] - s.ee_pose[:3]) <= LIMITS.step.max_translation_m + 1e-9
    assert _rot_angle(hand[3:], s.ee_pose[3:]) <= LIMITS.step.max_rotation_rad + 1e-9
    assert LIMITS.gripper.min_width_m <= out.gripper_width <= LIMITS.gripper.max_width_m


def test_huge_finite_action_is_clamped_along_its_direction():
    s = state_at(HOME_Q)
    out = SafetyLayer().filter(s, np.array([1e308, 0.0, -1e308, 0.0, 0.0, 0.0, 0.04]))
    dp = out.ee_pose[:3] - s.ee_pose[:3]
    np.testing.assert_allclose(dp, [0.01 / np.sqrt(2), 0.0, -0.01 / np.sqrt(2)], atol=1e-12)
