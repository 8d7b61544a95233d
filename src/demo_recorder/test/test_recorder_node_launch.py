"""launch_testing: demo_recorder records one episode from topics, driven by keys on /vip/keys.

Runs where ROS 2 is installed (``colcon test`` in the docker image); elsewhere pytest collects
this file and skips it. The test plays camera and robot (30 Hz images, 100 Hz joint states and
pose, 15 Hz gripper, like realsense2_camera and franka_ros2), presses space to start and s to
label the demo a success, waits for the node to finish its one-episode session and exit, then
reads the bag back through vipflow's episode reader.
"""

from __future__ import annotations

import time
import unittest

import numpy as np
import pytest

from vipflow.ros.testing import TEST_HARDWARE, ProbeCase, node_under_test, require_launch_testing, temp_dir

rclpy = require_launch_testing()

import launch_testing  # noqa: E402
import launch_testing.asserts  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from vipflow.episodes import list_episodes, read_episode  # noqa: E402
from vipflow.episodes.messages import DEFAULT_JOINT_NAMES  # noqa: E402
from vipflow.hardware import Frame  # noqa: E402
from vipflow.ros.topic_hardware import FRANKA_FINGER_JOINTS, image_cdr, joint_state_cdr, pose_cdr, string_cdr  # noqa: E402

DATASET = temp_dir("demo_recorder_test_") / "dataset"


@pytest.mark.launch_test
def generate_test_description():
    parameters = {
        "task": "launch_test",
        "dataset": str(DATASET),
        "num_episodes": 1,
        "episode_time_s": 30.0,  # ended early by the s key
        "reset_time_s": 0.0,
        "key_topic": "/test/keys",
        "prompt_topic": "/test/prompts",
        **TEST_HARDWARE,
    }
    return node_under_test("demo_recorder", "demo_recorder", parameters)


class TestRecorderNode(ProbeCase):
    def test_keys_record_one_labelled_episode(self, proc_info, demo_recorder):
        pubs = self.robot_publishers()
        keys = self.node.create_publisher(String, "/test/keys", 10)
        prompts = []
        self.node.create_subscription(String, "/test/prompts", prompts.append, 50)
        t0 = time.monotonic()
        pressed_start = pressed_success = 0.0
        tick = 0
        while time.monotonic() - t0 < 120.0:
            now = self.node.get_clock().now().nanoseconds
            x = 0.4 + 0.001 * tick
            pubs["joints"].publish(joint_state_cdr(DEFAULT_JOINT_NAMES, np.full(7, 0.01 * tick), now))
            pubs["pose"].publish(pose_cdr(np.array([x, 0.0, 0.3, 1.0, 0.0, 0.0, 0.0]), now, "fr3_link0"))
            if tick % 3 == 0:
                pubs["image"].publish(image_cdr(Frame(now, np.full((48, 64, 3), tick % 255, np.uint8)), now))
            if tick % 7 == 0:
                pubs["gripper"].publish(joint_state_cdr(FRANKA_FINGER_JOINTS, [0.03, 0.03], now))
            texts = [p.data for p in prompts]
            if not pressed_start and any("[space] start" in t for t in texts):
                keys.publish(string_cdr("space"))
                pressed_start = time.monotonic()
            elif pressed_start and not pressed_success and time.monotonic() - pressed_start > 2.0:
                keys.publish(string_cdr("s"))
                pressed_success = time.monotonic()
            if pressed_success and any("session done" in t for t in texts):
                break
            tick += 1
            rclpy.spin_once(self.node, timeout_sec=0.01)
        self.assertTrue(
            pressed_start, f"the recorder never asked to start; prompts: {[p.data for p in prompts]}"
        )
        self.assertTrue(any("session done" in p.data for p in prompts), [p.data for p in prompts][-5:])
        proc_info.assertWaitForShutdown(process=demo_recorder, timeout=30)


@launch_testing.post_shutdown_test()
class TestRecordedEpisode(unittest.TestCase):
    def test_session_exited_cleanly_and_the_episode_reads_back(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
        episodes = list_episodes(DATASET)
        self.assertEqual(len(episodes), 1)
        ep = read_episode(episodes[0].path)
        self.assertEqual(ep.meta.label, "success")
        self.assertEqual(ep.meta.task, "launch_test")
        grid = ep.on_grid(25.0)
        self.assertGreaterEqual(len(grid.t_ns), 25)  # about 2 s of a 25 Hz grid
        self.assertEqual(grid.frames.shape[1:], (48, 64, 3))
        self.assertTrue(np.all(np.diff(grid.ee_pose[:, 0]) >= 0))  # the pose moved forward, causally
