"""launch_testing: rwr_policy_node, started by its ~/start service, emits bounded pose commands.

Runs where ROS 2 is installed (``colcon test`` in the docker image); elsewhere pytest collects
this file and skips it. The test plays the robot: it publishes a camera image, joint states, the
end-effector pose and the gripper joints as franka_ros2 would (pose best-effort), starts the node
and checks every PoseStamped on the command topic against the safety limits relative to the pose
it published. The policy is a real checkpoint (random MLP weights with statistics that ask for
steps far beyond the limits), the encoder a real small VIP-family network.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from vipflow.ros.testing import (
    TEST_HARDWARE,
    ProbeCase,
    exits_cleanly_test,
    node_under_test,
    require_launch_testing,
    small_encoder,
    temp_dir,
)

rclpy = require_launch_testing()

from geometry_msgs.msg import PoseStamped  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from vipflow.episodes.messages import DEFAULT_JOINT_NAMES  # noqa: E402
from vipflow.hardware import Frame  # noqa: E402
from vipflow.policy import EncoderRef, Normalization, PolicyConfig, build_policy_net, save_policy  # noqa: E402
from vipflow.ros.topic_hardware import FRANKA_FINGER_JOINTS, image_cdr, joint_state_cdr, pose_cdr  # noqa: E402
from vipflow.runtime.limits import SafetyLimits  # noqa: E402

POSE = np.array([0.45, 0.0, 0.35, 1.0, 0.0, 0.0, 0.0])  # inside the default workspace box
Q = np.array([0.0, -0.3, 0.0, -2.2, 0.0, 1.9, 0.8])
LIMITS = SafetyLimits()


@pytest.mark.launch_test
def generate_test_description():
    tmp = temp_dir("rwr_policy_test_")
    encoder, weights = small_encoder(tmp)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(64, encoder.embed_dim + 8))
    actions = rng.normal(scale=0.05, size=(64, 7))  # 5 cm steps: 5x the step limit
    config = PolicyConfig(
        encoder=EncoderRef(
            encoder.name, encoder.arch, encoder.fingerprint, encoder.embed_dim, encoder.similarity
        ),
        action_space="ee_delta",
        proprio_keys=("ee_pose", "gripper"),
        normalization=Normalization.fit(obs, actions),
        tasks=("test_task",),
        hidden_sizes=(32, 32),
    )
    net = build_policy_net(config.input_dim, config.action_dim, config.hidden_sizes, config.head, seed=1)
    policy = save_policy(tmp / "policy", net, config, None)
    parameters = {
        "policy": str(policy),
        "encoder_weights": str(weights),
        "command_topic": "/test/equilibrium_pose",
        "status_topic": "/test/status",
        "gripper_move_action": "",
        "error_recovery_action": "",
        **TEST_HARDWARE,
    }
    return node_under_test("rwr_policy_node", "rwr_policy_node", parameters)


class TestPolicyNode(ProbeCase):
    def _publish_robot_and_camera(self, pubs, i):
        now = self.node.get_clock().now().nanoseconds
        img = np.full((48, 64, 3), 30 + (i % 50), np.uint8)
        pubs["image"].publish(image_cdr(Frame(now, img), now))
        pubs["joints"].publish(joint_state_cdr(DEFAULT_JOINT_NAMES, Q, now, np.zeros(7)))
        pubs["pose"].publish(pose_cdr(POSE, now, "fr3_link0"))
        pubs["gripper"].publish(joint_state_cdr(FRANKA_FINGER_JOINTS, [0.02, 0.02], now))

    def test_start_service_produces_commands_within_the_safety_limits(self):
        pubs = self.robot_publishers()
        commands, statuses = [], []
        self.node.create_subscription(PoseStamped, "/test/equilibrium_pose", commands.append, 100)
        self.node.create_subscription(String, "/test/status", statuses.append, 100)
        start = self.node.create_client(Trigger, "/rwr_policy_node/start")
        self.assertTrue(start.wait_for_service(timeout_sec=90.0), "~/start service never appeared")
        future = start.call_async(Trigger.Request())
        deadline = time.monotonic() + 60.0
        i = 0
        while time.monotonic() < deadline and len(commands) < 25:
            self._publish_robot_and_camera(pubs, i)  # ~50 Hz, like the robot's convenience topics
            i += 1
            rclpy.spin_once(self.node, timeout_sec=0.02)
        self.assertTrue(future.done() and future.result().success, "~/start was refused")
        self.assertGreaterEqual(len(commands), 25, "the policy node sent no pose commands")
        step = LIMITS.step
        for msg in commands:
            p, q = msg.pose.position, msg.pose.orientation
            target = np.array([p.x, p.y, p.z, q.x, q.y, q.z, q.w])
            self.assertTrue(np.isfinite(target).all())
            # every command stays within one step of the measured pose, and inside the box
            self.assertLessEqual(np.linalg.norm(target[:3] - POSE[:3]), step.max_translation_m + 1e-6)
            angle = 2 * np.arccos(min(1.0, abs(float(np.dot(target[3:], POSE[3:])))))
            self.assertLessEqual(angle, step.max_rotation_rad + 1e-6)
            self.assertTrue(
                np.all(target[:3] >= LIMITS.workspace.min) and np.all(target[:3] <= LIMITS.workspace.max)
            )
            self.assertEqual(msg.header.frame_id, "fr3_link0")
        states = [json.loads(s.data) for s in statuses]
        self.assertTrue(any(s.get("state") in ("moving", "holding") for s in states), states[-3:])
        stop = self.node.create_client(Trigger, "/rwr_policy_node/stop")
        result = stop.call_async(Trigger.Request())
        end = time.monotonic() + 10.0
        while time.monotonic() < end and not result.done():
            rclpy.spin_once(self.node, timeout_sec=0.05)
        self.assertTrue(result.result().success)


TestPolicyNodeShutdown = exits_cleanly_test()
