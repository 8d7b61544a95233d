"""Parameters of the kitchen_sim node (ROS-free, like every node schema here)."""

from __future__ import annotations

from dataclasses import dataclass

from vipflow.config_schema import option, require
from vipflow.ros.names import SIM_GRIPPER_COMMAND_TOPIC, SIM_RESET_SERVICE, SIM_SUCCESS_TOPIC
from vipflow.ros.remote_keys import KEY_TOPIC, PROMPT_TOPIC
from vipflow.task_config import TaskConfig


@dataclass(frozen=True)
class KitchenSimParams:
    task: str = option(
        "slide_cabinet", "kitchen task: slide_cabinet, microwave, hinge_cabinet or light_switch"
    )
    seed: int = option(0, "seed of the first scene; each reset draws the next one")
    image_size: int = option(224, "square camera image size, pixels")
    rate_hz: float = option(25.0, "physics and publishing rate (one 40 ms control period per tick)")
    image_topic: str = option("/kitchen/camera/image_raw", "camera out (sensor_msgs/Image rgb8)")
    joint_states_topic: str = option("/kitchen/joint_states", "arm joints out (sensor_msgs/JointState)")
    ee_pose_topic: str = option("/kitchen/ee_pose", "end-effector pose out, world frame (PoseStamped)")
    gripper_topic: str = option("/kitchen/gripper/joint_states", "finger joints out (sensor_msgs/JointState)")
    command_topic: str = option("/kitchen/equilibrium_pose", "pose targets in (geometry_msgs/PoseStamped)")
    gripper_command_topic: str = option(
        SIM_GRIPPER_COMMAND_TOPIC, "gripper width targets in (std_msgs/Float64)"
    )
    success_topic: str = option(SIM_SUCCESS_TOPIC, "task success out (std_msgs/Bool, FrankaKitchen's test)")
    reset_service: str = option(SIM_RESET_SERVICE, "std_srvs/Trigger: a new scene (each rollout; each demo)")
    key_topic: str = option(
        KEY_TOPIC, "expert mode: a start key (space/enter) starts the expert (in a new scene if needed)"
    )
    prompt_topic: str = option(PROMPT_TOPIC, "success changes are announced here (std_msgs/String)")
    expert: bool = option(
        False, "a scripted expert moves the arm from each start key on (the hand of kinesthetic teaching)"
    )
    expert_horizon: int = option(50, "expert mode: steps the expert plans for")
    command_timeout_s: float = option(0.5, "hold still when no pose target arrived for this long")
    publish_camera: bool = option(
        True, "publish camera images; false at run time simulates a camera dropout (ros2 param set)"
    )

    def __post_init__(self) -> None:
        require(
            (self.rate_hz > 0, f"rate_hz must be positive, got {self.rate_hz}"),
            (
                16 <= self.image_size <= 1024,
                f"image_size must be within 16..1024 pixels, got {self.image_size}",
            ),
            (self.expert_horizon >= 1, f"expert_horizon must be >= 1, got {self.expert_horizon}"),
            (self.command_timeout_s > 0, f"command_timeout_s must be positive, got {self.command_timeout_s}"),
        )


def kitchen_params_from_task(task: TaskConfig, *, expert: bool = False, seed: int = 0) -> dict:
    t = task.topics
    return {
        "task": task.task,
        "seed": seed,
        "image_size": task.camera.width,
        "rate_hz": task.rate_hz,
        "image_topic": t.image,
        "joint_states_topic": t.joint_states,
        "ee_pose_topic": t.ee_pose,
        "gripper_topic": t.gripper,
        "command_topic": t.command,
        "expert": expert,
        "expert_horizon": task.record.horizon,
    }
