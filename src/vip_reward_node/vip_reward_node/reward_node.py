"""vip_reward_node: camera image in; VIP/LIV embedding, value and reward out.

A thin rclpy adapter. rclpy only carries CDR bytes (raw subscriptions, byte publishing); the
decoding (rgb8/bgr8/mono8, row step), the encoder, the goal and the reward live in the ROS-free
core (``vipflow.ros.topic_hardware``, ``vipflow.policy.goals``, ``vip_reward_node.reward_stream``).

Topics (names are parameters):
  in   image_topic            sensor_msgs/Image, best-effort depth 1 by default (newest frame only)
  out  embedding_topic        std_msgs/Float32MultiArray, the frame's embedding
  out  reward_topic           std_msgs/Float32MultiArray, [value, reward]
  out  reward_stamped_topic   geometry_msgs/PointStamped, x = value, y = reward, header = the image's
The goal (``goal.*`` and ``task``) and ``gamma`` can be changed at run time with ``ros2 param set``;
the other parameters are read-only (restart the node to change the encoder or the topics).
"""

from __future__ import annotations

import threading

import rclpy
import rclpy.executors
from geometry_msgs.msg import PointStamped
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Float32MultiArray

from vip_reward_node.params import RewardNodeParams
from vip_reward_node.reward_stream import RewardSample, RewardStream, RewardWorker
from vipflow.config_schema import ConfigError
from vipflow.policy.goals import goal_embedding
from vipflow.ros.node_support import declare_parameters, read_parameters, spin
from vipflow.ros.topic_hardware import TopicCamera, float32_array_cdr, point_stamped_cdr


def _runtime(name: str) -> bool:
    """Parameters ``ros2 param set`` may change while the node runs: the goal and gamma."""
    return name == "gamma" or name == "task" or name.startswith("goal.")


class RewardNode(Node):
    def __init__(self) -> None:
        super().__init__("vip_reward_node")
        self.params: RewardNodeParams = declare_parameters(
            self, RewardNodeParams, ParameterDescriptor, read_only=lambda name: not _runtime(name)
        )
        p = self.params
        from vipflow.encoders import load_encoder  # torch: imported once the parameters are valid

        self.encoder = load_encoder(
            p.encoder, p.encoder_weights or None, arch=p.encoder_arch or None, device=p.device
        )
        self.label = f"{self.encoder.name}/{self.encoder.arch} {self.encoder.fingerprint[:12]}"
        self.stream = RewardStream(self.encoder, p.gamma)
        self.camera = TopicCamera(p.image_topic, ros_now_ns=lambda: self.get_clock().now().nanoseconds)
        reliability = {"best_effort": ReliabilityPolicy.BEST_EFFORT, "reliable": ReliabilityPolicy.RELIABLE}
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST, depth=p.qos_depth, reliability=reliability[p.qos_reliability]
        )
        self.create_subscription(Image, p.image_topic, self.camera.on_image, qos, raw=True)
        self.pub_embedding = self.create_publisher(Float32MultiArray, p.embedding_topic, 10)
        self.pub_reward = self.create_publisher(Float32MultiArray, p.reward_topic, 10)
        self.pub_stamped = self.create_publisher(PointStamped, p.reward_stamped_topic, 10)
        self._goal_lock = threading.Lock()
        self._goal_version = 0
        self._set_goal(p, self._goal_version)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.worker = RewardWorker(self.camera, self.stream, self._publish, self.get_logger().warning)
        self.worker.start()
        self.get_logger().info(
            f"{self.label} ({self.encoder.embed_dim}-D): {p.image_topic} -> "
            f"{p.embedding_topic}, {p.reward_topic}"
        )

    # -- goal -------------------------------------------------------------------------------------
    def _set_goal(self, p: RewardNodeParams, version: int) -> None:
        """Compute the goal of ``p`` (may take seconds for dataset goals) and install it if still current."""
        what = p.goal.describe()
        try:
            goal = goal_embedding(self.encoder, p.goal, task=p.task)
        except Exception as exc:  # any goal failure: say why, publish embeddings only
            with self._goal_lock:
                if version == self._goal_version:
                    self.stream.set_goal(None)
            self.get_logger().error(
                f"no goal ({what}): {exc}; publishing embeddings only until a goal parameter is fixed"
            )
            return
        with self._goal_lock:
            if version == self._goal_version:
                self.stream.set_goal(goal, what)
                self.get_logger().info(f"goal set from {what}")

    def _on_set_parameters(self, changed) -> SetParametersResult:
        try:
            new = read_parameters(self, RewardNodeParams, {c.name: c.value for c in changed})
        except ConfigError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        self.stream.gamma = new.gamma
        if any(c.name != "gamma" for c in changed):
            with self._goal_lock:
                self._goal_version += 1
                version = self._goal_version
            threading.Thread(target=self._set_goal, args=(new, version), daemon=True).start()
        return SetParametersResult(successful=True)

    # -- output -----------------------------------------------------------------------------------
    def _publish(self, sample: RewardSample) -> None:
        self.pub_embedding.publish(float32_array_cdr(sample.embedding, self.label))
        if sample.value is None:
            return
        self.pub_reward.publish(float32_array_cdr([sample.value, sample.reward], "value,reward"))
        self.pub_stamped.publish(point_stamped_cdr((sample.value, sample.reward, 0.0), sample.header_ns))

    def close(self) -> None:
        self.worker.stop()


def main(args: list[str] | None = None) -> int:
    return spin(rclpy, RewardNode, name="vip_reward_node", args=args)


if __name__ == "__main__":
    raise SystemExit(main())
