"""Parameters of vip_reward_node (ROS-free: the launch files and the tests read the same schema)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vipflow.config_schema import default_of, option, option_from, require, to_flat
from vipflow.ros.names import STAMPED_SUFFIX
from vipflow.task_config import GoalSpec, TaskConfig, TopicSpec

QOS_RELIABILITY = ("best_effort", "reliable")


@dataclass(frozen=True)
class RewardNodeParams:
    image_topic: str = option_from(TopicSpec, "image", "sensor_msgs/Image in (rgb8, bgr8 or mono8)")
    embedding_topic: str = option_from(TopicSpec, "embedding", "embedding out (std_msgs/Float32MultiArray)")
    reward_topic: str = option_from(TopicSpec, "reward")
    reward_stamped_topic: str = option(
        default_of(TopicSpec, "reward") + STAMPED_SUFFIX,
        "value (x) and reward (y) with the image's header (geometry_msgs/PointStamped)",
    )
    encoder: str = option("vip", "encoder family: vip, r3m, liv or resnet50")
    encoder_arch: str = option("", "architecture ('' = the family default)")
    encoder_weights: str = option("", "weights file: official .pt or our .safetensors")
    device: str = option("cpu", "torch device: cpu, cuda or cuda:N")
    gamma: float = option(0.98, "discount γ (LIV's cosine similarity is divided by 1-γ)")
    task: str = option("", "dataset goals: whose demos to use in a multi-task dataset ('' = the only task)")
    goal: GoalSpec = field(default_factory=lambda: GoalSpec(source="images"))
    qos_reliability: str = option(
        "best_effort",
        "image subscription reliability (best_effort also receives reliable publishers)",
        choices=QOS_RELIABILITY,
    )
    qos_depth: int = option(1, "image subscription queue depth (1 = always the newest frame)")

    def __post_init__(self) -> None:
        require(
            (0 < self.gamma <= 1, f"gamma must be in (0, 1], got {self.gamma}"),
            (self.qos_depth >= 1, f"qos_depth must be >= 1, got {self.qos_depth}"),
        )


def reward_params_from_task(task: TaskConfig, *, encoder_weights: str = "", device: str = "cpu") -> dict:
    """The node parameters a task config implies (launch overrides: weights file, device)."""
    return {
        "image_topic": task.topics.image,
        "embedding_topic": task.topics.embedding,
        "reward_topic": task.topics.reward,
        "reward_stamped_topic": task.topics.reward + STAMPED_SUFFIX,
        "encoder": task.encoder.name,
        "encoder_arch": task.encoder.arch,
        "encoder_weights": encoder_weights or task.encoder.weights,
        "device": device,
        "gamma": task.reward.gamma,
        "task": task.task,
        **to_flat(task.resolved_goal(), "goal."),
    }
