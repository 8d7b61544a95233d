"""The one helper of our ROS packages' launch tests (``src/<package>/test``, run by ``colcon test``).

Those tests need ROS 2's ``launch``, ``launch_ros`` and ``launch_testing``, which exist in a ROS
install (the docker image) but not as pip wheels; elsewhere they are skipped with the reason, and
``tests/ros`` runs the same nodes as processes over DDS instead. Every launch test starts with

    rclpy = require_launch_testing()

and uses ``ProbeCase`` (an rclpy node for the test class, message collection, spinning until a
condition holds) and ``exits_cleanly_test()`` (the post-shutdown exit-code check), instead of
each package repeating that scaffolding. No ROS import happens at module level here.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
import unittest
from collections.abc import Callable

LAUNCH_PACKAGES = ("rclpy", "launch", "launch_ros", "launch_testing", "ament_index_python")
SKIP_REASON = (
    "needs ROS 2 launch_testing (not on pip): run with `colcon test` in the docker image; "
    "tests/ros runs these nodes as processes over DDS"
)


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
