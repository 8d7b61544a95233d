"""The one helper of our ROS packages' launch tests (``src/<package>/test``, run by ``colcon test``).

Those tests need ROS 2's ``launch``, ``launch_ros`` and ``launch_testing``, which exist in a ROS
install (the docker image) but not as pip wheels; elsewhere they are skipped with the reason, and
``tests/ros`` runs the same nodes as processes over DDS instead. Every launch test starts with

    rclpy = require_launch_testing()

and uses ``node_under_test()`` (the node and ``ReadyToTest``), ``small_encoder()`` (a real small
VIP-family network in our weights format), ``ProbeCase`` (an rclpy node for the test class,
message collection, the robot's publishers on ``TEST_HARDWARE``'s topics, spinning until a
condition holds) and ``exits_cleanly_test()`` (the post-shutdown exit-code check), instead of
each package repeating that scaffolding. No ROS or torch import happens at module level here.
"""

from __future__ import annotations

import importlib
import importlib.util
import tempfile
import time
import unittest
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

LAUNCH_PACKAGES = ("rclpy", "launch", "launch_ros", "launch_testing", "ament_index_python")
# What node_under_test() and exits_cleanly_test() import for a package's launch tests: its test_depend.
LAUNCH_TEST_DEPENDS = ("launch", "launch_ros", "launch_testing")
SKIP_REASON = (
    "needs ROS 2 launch_testing (not on pip): run with `colcon test` in the docker image; "
    "tests/ros runs these nodes as processes over DDS"
)


# Where a launch test plays the camera and the arm: the ``hardware.*`` parameters of the recorder
# and the policy node, and the topics ``ProbeCase.robot_publishers`` publishes on.
TEST_HARDWARE = {
    "hardware.image_topic": "/test/image",
    "hardware.joint_states_topic": "/test/joint_states",
    "hardware.ee_pose_topic": "/test/current_pose",
    "hardware.gripper_topic": "/test/gripper",
}


def launch_testing_available() -> bool:
    """True when the launch packages are importable as real packages. From the repository root
    ``launch`` would otherwise resolve to our top-level launch/ folder (a namespace package with
    no origin), so the check looks at where each one comes from instead of just importing it."""
    for name in LAUNCH_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return False
        if spec is None or spec.origin is None:
            return False
    return True


def require_launch_testing():
    """Skip the calling test module unless launch_testing can run it; returns rclpy."""
    import pytest

    if not launch_testing_available():
        pytest.skip(SKIP_REASON, allow_module_level=True)
    return importlib.import_module("rclpy")


def temp_dir(prefix: str) -> Path:
    """A fresh directory for one launch test's files (the launch description outlives any fixture)."""
    return Path(tempfile.mkdtemp(prefix=prefix))


def small_encoder(folder: Path, filename: str = "encoder.safetensors") -> tuple[Any, Path]:
    """A real VIP-family encoder (convnet-small, random weights: no official file can be downloaded
    in CI) and its weights saved in our safetensors format under ``folder``."""
    from vipflow.encoders import load_encoder, save_encoder  # deferred: torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoder = load_encoder("vip", arch="convnet-small", random_init=True, seed=0)
    return encoder, save_encoder(encoder, folder / filename)


def node_under_test(package: str, executable: str, parameters: dict, **context: Any) -> tuple[Any, dict]:
    """``generate_test_description``'s result for one node: the launch description (the node, then
    ``ReadyToTest``) and the context, which names the node by its executable."""
    launch = importlib.import_module("launch")
    ros_actions = importlib.import_module("launch_ros.actions")
    testing_actions = importlib.import_module("launch_testing.actions")
    node = ros_actions.Node(package=package, executable=executable, parameters=[parameters], output="screen")
    description = launch.LaunchDescription([node, testing_actions.ReadyToTest()])
    return description, {executable: node, **context}


class ProbeCase(unittest.TestCase):
    """A test class with its own rclpy node (``self.node``) for the duration of the launch."""

    node = None

    @classmethod
    def setUpClass(cls):
        rclpy = importlib.import_module("rclpy")
        rclpy.init()
        cls.node = rclpy.create_node(f"{cls.__name__.lower()}_probe")

    @classmethod
    def tearDownClass(cls):
        rclpy = importlib.import_module("rclpy")
        cls.node.destroy_node()
        rclpy.shutdown()

    def collect(self, msg_type, topic: str, qos=10) -> list:
        """Every message on ``topic`` from now on."""
        got: list = []
        self.node.create_subscription(msg_type, topic, got.append, qos)
        return got

    def robot_publishers(self) -> dict:
        """Publishers of what franka_ros2 and the camera send, on ``TEST_HARDWARE``'s topics (the
        pose best-effort, like the robot state broadcaster): keys image, joints, pose, gripper."""
        geometry = importlib.import_module("geometry_msgs.msg")
        sensor = importlib.import_module("sensor_msgs.msg")
        best_effort = importlib.import_module("rclpy.qos").qos_profile_sensor_data
        hw, publisher = TEST_HARDWARE, self.node.create_publisher
        return {
            "image": publisher(sensor.Image, hw["hardware.image_topic"], 10),
            "joints": publisher(sensor.JointState, hw["hardware.joint_states_topic"], 10),
            "pose": publisher(geometry.PoseStamped, hw["hardware.ee_pose_topic"], best_effort),
            "gripper": publisher(sensor.JointState, hw["hardware.gripper_topic"], 10),
        }

    def spin_until(self, done: Callable[[], bool], timeout_s: float, step_s: float = 0.05) -> bool:
        """Spin the probe until ``done()``; False on timeout."""
        rclpy = importlib.import_module("rclpy")
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline:
                return False
            rclpy.spin_once(self.node, timeout_sec=step_s)
        return True

    def spin_for(self, seconds: float) -> None:
        self.spin_until(lambda: False, seconds)


def exits_cleanly_test() -> type:
    """The post-shutdown test case every launch test ends with: all processes exited 0."""
    launch_testing = importlib.import_module("launch_testing")
    asserts = importlib.import_module("launch_testing.asserts")

    @launch_testing.post_shutdown_test()
    class TestExitCodes(unittest.TestCase):
        def test_exits_cleanly(self, proc_info):
            asserts.assertExitCodes(proc_info)

    return TestExitCodes
