"""The action function is the single definition shared by training labels and run-time targets,
so the round trip state_t --action--> state_t+1 must be exact (the gripper: except while it
holds something, where the label is the grasp command, not the width the object stopped)."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vipflow.actions import (
    action_space,
    actions_from_states,
    gripper_commands,
    proprio_vector,
    target_from_action,
)
from vipflow.hardware import RobotState, RobotTarget


def _trajectory(n: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    joint_pos = np.cumsum(rng.normal(0, 0.05, (n, 7)), axis=0)
    xyz = np.cumsum(rng.normal(0, 0.01, (n, 3)), axis=0) + [0.4, 0.0, 0.5]
    quat = Rotation.from_rotvec(np.cumsum(rng.normal(0, 0.05, (n, 3)), axis=0)).as_quat()
    gripper = np.sort(rng.uniform(0.0, 0.08, n))  # opening: no grasp, labels are the widths
    return joint_pos, np.concatenate([xyz, quat], axis=1), gripper


@pytest.mark.parametrize("space", ["ee_delta", "joint_delta"])
def test_round_trip_reproduces_next_state(space):
    joint_pos, ee_pose, gripper = _trajectory()
    actions = actions_from_states(space, joint_pos, ee_pose, gripper)
    assert actions.shape == (5, action_space(space).dim)
    assert actions.dtype == np.float32
    for t in range(5):
        state = RobotState(0, joint_pos[t], np.zeros(7), ee_pose[t], float(gripper[t]))
        target = target_from_action(space, state, actions[t])
        assert target.gripper_width == pytest.approx(gripper[t + 1], abs=1e-6)
        if space == "joint_delta":
            np.testing.assert_allclose(target.joint_pos, joint_pos[t + 1], atol=1e-6)
        else:
            np.testing.assert_allclose(target.ee_pose[:3], ee_pose[t + 1, :3], atol=1e-6)
            # Quaternions q and -q are the same rotation.
            reached = Rotation.from_quat(target.ee_pose[3:])
            angle = (reached * Rotation.from_quat(ee_pose[t + 1, 3:]).inv()).magnitude()
            assert angle < 1e-5


def test_ee_delta_is_a_base_frame_increment():
    # A pure 0.1 rad yaw about base z between two poses gives rz = 0.1 whatever the start attitude.
    start = Rotation.from_euler("xyz", [0.3, -0.2, 1.0])
    end = Rotation.from_euler("z", 0.1) * start
    ee = np.array([[0, 0, 0, *start.as_quat()], [0.01, 0, 0, *end.as_quat()]])
    a = actions_from_states("ee_delta", np.zeros((2, 7)), ee, np.array([0.04, 0.02]))
    np.testing.assert_allclose(a[0], [0.01, 0, 0, 0, 0, 0.1, 0.02], atol=1e-6)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown action space 'cartesian'"):
        action_space("cartesian")
    with pytest.raises(ValueError, match="disagree in length"):
        actions_from_states("joint_delta", np.zeros((3, 7)), np.zeros((2, 7)), np.zeros(3))
    state = RobotState(0, np.zeros(7), np.zeros(7), np.array([0, 0, 0, 0, 0, 0, 1.0]), 0.0)
    with pytest.raises(ValueError, match="must have 7 values"):
        target_from_action("ee_delta", state, np.zeros(8))
    with pytest.raises(ValueError, match="exactly one"):
        RobotTarget(gripper_width=0.0)


def test_gripper_label_is_the_grasp_command_while_the_fingers_hold():
    mm = 1e-3
    # Open, close onto a 45 mm handle (two closing ticks), hold while the handle pries the
    # fingers apart slowly (1.5 mm/tick), then an opening stroke.
    width = np.array([80, 80, 60, 45, 45, 46.5, 48, 49.5, 51, 58, 70, 80]) * mm
    labels = gripper_commands(width)
    expected = np.array([80, 60, 0, 0, 0, 0, 0, 0, 58, 70, 80]) * mm
    np.testing.assert_allclose(labels, expected)
    a = actions_from_states("ee_delta", np.zeros((12, 7)), np.tile([0, 0, 0, 0, 0, 0, 1.0], (12, 1)), width)
    np.testing.assert_allclose(a[:, -1], expected, atol=1e-7)
    # No closing motion, no grasp: fingers kept closed (the light switch) or open read as widths.
    np.testing.assert_allclose(gripper_commands([0.0, 0.0002, 0.0]), [0.0002, 0.0])
    np.testing.assert_allclose(gripper_commands([0.08, 0.0795, 0.08]), [0.0795, 0.08])
    # Two widths (one commanded tick, as the runtime records executed actions) have no history.
    np.testing.assert_allclose(gripper_commands([0.08, 0.03]), [0.03])


def test_single_state_gives_no_actions():
    identity = np.array([[0, 0, 0, 0, 0, 0, 1.0]])
    assert actions_from_states("ee_delta", np.zeros((1, 7)), identity, [0.0]).shape == (0, 7)


def test_proprio_vector_single_and_batch():
    joint_pos, ee_pose, gripper = _trajectory()
    batch = proprio_vector(["ee_pose", "gripper"], joint_pos, ee_pose, gripper)
    assert batch.shape == (6, 8)
    one = proprio_vector(("joint_pos", "gripper"), joint_pos[2], ee_pose[2], float(gripper[2]))
    np.testing.assert_allclose(one, np.r_[joint_pos[2], gripper[2]], rtol=1e-6)
    assert proprio_vector([], joint_pos, ee_pose, gripper).shape == (6, 0)
    with pytest.raises(ValueError, match="unknown proprioception keys"):
        proprio_vector(["torque"], joint_pos, ee_pose, gripper)
