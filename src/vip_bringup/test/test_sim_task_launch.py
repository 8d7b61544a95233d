"""launch_testing: slide_cabinet.launch.py brings up the simulated kitchen and the reward node.

The launch file itself is under test (arguments, plan, node names, topics): the kitchen must
publish camera and arm topics in real time and vip_reward_node must turn the camera into
embeddings. Needs ROS 2 (``colcon test`` in the docker image); elsewhere it is skipped.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from vipflow.ros.testing import ProbeCase, exits_cleanly_test, require_launch_testing, small_encoder, temp_dir

rclpy = require_launch_testing()

import launch  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Bool, Float32MultiArray  # noqa: E402


@pytest.mark.launch_test
def generate_test_description():
    _, weights = small_encoder(temp_dir("sim_launch_test_"), "kitchen_encoder.safetensors")
    path = Path(get_package_share_directory("vip_bringup")) / "launch" / "slide_cabinet.launch.py"
    include = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(path)),
        launch_arguments={"encoder_weights": str(weights)}.items(),
    )
    return launch.LaunchDescription([include, launch_testing.actions.ReadyToTest()]), {}


class TestSimTaskLaunch(ProbeCase):
    def test_kitchen_topics_and_embeddings_flow(self):
        got = {"image": [], "pose": [], "success": [], "embedding": []}
        self.node.create_subscription(
            Image, "/kitchen/camera/image_raw", got["image"].append, qos_profile_sensor_data
        )
        self.node.create_subscription(
            PoseStamped, "/kitchen/ee_pose", got["pose"].append, qos_profile_sensor_data
        )
        self.node.create_subscription(Bool, "/kitchen/success", got["success"].append, 10)
        self.node.create_subscription(Float32MultiArray, "/vip/embedding", got["embedding"].append, 10)
        deadline = time.monotonic() + 120.0  # mujoco scene and torch load first
        while time.monotonic() < deadline and min(len(v) for v in got.values()) < 10:
            rclpy.spin_once(self.node, timeout_sec=0.1)
        for name, msgs in got.items():
            self.assertGreaterEqual(len(msgs), 10, f"no {name} messages from the launched nodes")
        self.assertEqual((got["image"][-1].height, got["image"][-1].width), (224, 224))
        self.assertEqual(len(got["embedding"][-1].data), 1024)
        self.assertTrue(np.isfinite(np.asarray(got["embedding"][-1].data)).all())
        self.assertFalse(got["success"][-1].data)  # nobody opened the cabinet


TestSimTaskShutdown = exits_cleanly_test()
