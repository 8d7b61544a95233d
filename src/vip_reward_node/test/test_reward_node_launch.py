"""launch_testing: vip_reward_node turns published images into embeddings, values and rewards.

Runs where ROS 2 is installed (``colcon test`` in the docker image); elsewhere pytest collects
this file and skips it. The encoder is a real VIP-family network (small, random weights exported
to our safetensors format, since no official weights can be downloaded in CI); the goal is a
PNG file, as on the robot.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from vipflow.ros import testing

rclpy = testing.require_launch_testing()

import cv2  # noqa: E402
from geometry_msgs.msg import PointStamped  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Float32MultiArray  # noqa: E402

from vipflow.hardware import Frame  # noqa: E402
from vipflow.ros.topic_hardware import image_cdr  # noqa: E402

SIZE = 64


def scene(i: int) -> np.ndarray:
    """A bright square sliding to the right: frames change, so values change."""
    img = np.full((SIZE, SIZE, 3), 40, np.uint8)
    x = 4 + 3 * (i % 16)
    img[20:36, x : x + 12] = (220, 180, 60)
    return img


@pytest.mark.launch_test
def generate_test_description():
    tmp = testing.temp_dir("vip_reward_test_")
    encoder, weights = testing.small_encoder(tmp)
    goal = tmp / "goal.png"
    cv2.imwrite(str(goal), cv2.cvtColor(scene(15), cv2.COLOR_RGB2BGR))
    parameters = {
        "image_topic": "/test/image",
        "embedding_topic": "/test/embedding",
        "reward_topic": "/test/reward",
        "reward_stamped_topic": "/test/reward_stamped",
        "encoder": "vip",
        "encoder_arch": "convnet-small",
        "encoder_weights": str(weights),
        "goal.source": "images",
        "goal.images": [str(goal)],
    }
    context = {"embed_dim": encoder.embed_dim}
    return testing.node_under_test("vip_reward_node", "vip_reward_node", parameters, **context)


class TestRewardNode(testing.ProbeCase):
    def test_images_in_embedding_value_and_reward_out(self, embed_dim):
        got = {"embedding": [], "reward": [], "stamped": []}
        self.node.create_subscription(Float32MultiArray, "/test/embedding", got["embedding"].append, 10)
        self.node.create_subscription(Float32MultiArray, "/test/reward", got["reward"].append, 10)
        self.node.create_subscription(PointStamped, "/test/reward_stamped", got["stamped"].append, 10)
        images = self.node.create_publisher(Image, "/test/image", 10)
        sent_stamps = set()
        deadline = time.monotonic() + 90.0  # the node loads torch and the encoder first
        i = 0
        while time.monotonic() < deadline and min(len(v) for v in got.values()) < 5:
            stamp = self.node.get_clock().now().nanoseconds
            sent_stamps.add(stamp)
            images.publish(image_cdr(Frame(stamp, scene(i)), stamp))  # CDR bytes, as rclpy accepts
            i += 1
            end = time.monotonic() + 0.1
            while time.monotonic() < end:
                rclpy.spin_once(self.node, timeout_sec=0.02)
        self.assertGreaterEqual(len(got["embedding"]), 5, "no embeddings published for the images")
        self.assertGreaterEqual(len(got["reward"]), 5, "no rewards published although a goal image is set")
        emb = np.array(got["embedding"][-1].data, np.float32)
        self.assertEqual(emb.shape, (embed_dim,))
        self.assertTrue(np.isfinite(emb).all())
        self.assertIn("vip/convnet-small", got["embedding"][-1].layout.dim[0].label)
        values = np.array([r.data[0] for r in got["reward"]])
        rewards = np.array([r.data[1] for r in got["reward"]])
        self.assertTrue(np.all(values <= 0.0), "VIP values are negative distances to the goal")
        # a reward is the change of value between consecutive processed frames
        np.testing.assert_allclose(rewards[1:], np.diff(values), atol=1e-4)
        self.assertEqual(got["reward"][-1].layout.dim[0].label, "value,reward")
        # the stamped reward carries the header stamp of an image we sent
        st = got["stamped"][-1]
        self.assertIn(st.header.stamp.sec * 1_000_000_000 + st.header.stamp.nanosec, sent_stamps)


TestRewardNodeShutdown = testing.exits_cleanly_test()
