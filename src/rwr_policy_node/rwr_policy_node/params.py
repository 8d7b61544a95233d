"""Parameters of rwr_policy_node and its evaluate mode (ROS-free: launch files and tests read them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vipflow.config_schema import option, option_from, require, to_flat
from vipflow.encoder_inference import precision_option, runtime_option
from vipflow.evaluation.session import EvaluationConfig
from vipflow.ros.names import ACTION_TOPIC, POLICY_STATUS_TOPIC, SIM_RESET_SERVICE, SIM_SUCCESS_TOPIC
from vipflow.ros.remote_keys import KEY_TOPIC, PROMPT_TOPIC
from vipflow.ros.topic_hardware import TopicHardwareConfig
from vipflow.runtime.limits import SafetyLimits
from vipflow.task_config import GoalSpec, RobotSpec, TaskConfig, TopicSpec

JUDGES = ("operator", "topic")


@dataclass(frozen=True)
class PolicyNodeParams:
    policy: str = option(
        "", "policy checkpoint: a run directory (its last checkpoint), a checkpoint dir or file"
    )
    task: str = option("", "task for task-conditioned policies ('' = the policy's only task)")
    encoder_weights: str = option(
        "",
        "weights of the encoder the policy was trained on ('' = the weights directory); fingerprint-checked",
    )
    device: str = option("cpu", "torch device of encoder and policy: cpu, cuda or cuda:N")
    encoder_runtime: str = runtime_option()
    encoder_precision: str = precision_option()
    torch_threads: int = option(
        1, "torch threads of the encoder and the policy (keeps the 25 Hz thread responsive)"
    )
    perception: str = option(
        "process",
        "where frames are embedded: process (the encoder in a process of its own: it cannot delay the 25 Hz "
        "thread) or thread (in this process: one copy of the encoder in memory)",
        choices=("process", "thread"),
    )
    rt_priority: int = option(
        40,
        "SCHED_FIFO priority of the control-loop thread, 0: off; below ros2_control's controller_manager "
        "(50), which runs the arm's 1 kHz loop on the same PC (needs root, CAP_SYS_NICE or an rtprio limit; "
        "refused, the loop warns and runs at normal priority)",
        bounds="[0, 99]",
    )
    rate_hz: float = option(25.0, "control rate (VIP paper: 25 Hz)")
    horizon: int = option(0, "ticks per ~/start (0 = until ~/stop)")
    autostart: bool = option(False, "start moving as soon as the node is up (otherwise call ~/start)")
    command_topic: str = option_from(TopicSpec, "command", "pose targets out (geometry_msgs/PoseStamped)")
    joint_command_topic: str = option(
        "", "joint targets out (trajectory_msgs/JointTrajectory); '' = Cartesian targets only"
    )
    action_topic: str = option(
        ACTION_TOPIC, "policy output before the safety layer (std_msgs/Float32MultiArray)"
    )
    status_topic: str = option(
        POLICY_STATUS_TOPIC, "state, tick, hold and stop reasons (std_msgs/String, JSON)"
    )
    gripper_move_action: str = option(
        "/franka_gripper/move", "franka_msgs/action/Move server ('' = no gripper)"
    )
    gripper_grasp_action: str = option(
        "/franka_gripper/grasp", "franka_msgs/action/Grasp server, used to close"
    )
    gripper_command_topic: str = option(
        "", "gripper width targets out as std_msgs/Float64 (the simulator); '' = franka_msgs actions"
    )
    gripper_speed: float = option(0.05, "gripper speed, m/s")
    gripper_force: float = option(20.0, "grasp force, N")
    error_recovery_action: str = option(
        "/action_server/error_recovery", "franka_msgs/action/ErrorRecovery server ('' = no recovery)"
    )
    controller_manager: str = option("/controller_manager", "controller manager namespace (recovery)")
    hardware_component: str = option(
        "FrankaHardwareInterface", "ros2_control hardware re-activated after recovery ('' = skip)"
    )
    controller: str = option_from(
        RobotSpec, "controller", "controller re-activated after recovery ('' = skip)"
    )
    service_timeout_s: float = option(10.0, "how long each recovery step may take")
    hardware: TopicHardwareConfig = field(default_factory=TopicHardwareConfig)
    safety: SafetyLimits = field(default_factory=SafetyLimits)

    def __post_init__(self) -> None:
        require(
            (self.rate_hz > 0, f"rate_hz must be positive, got {self.rate_hz}"),
            (self.horizon >= 0, f"horizon must be >= 0 ticks (0 = until stopped), got {self.horizon}"),
            (self.torch_threads >= 1, f"torch_threads must be >= 1, got {self.torch_threads}"),
            (
                self.gripper_speed > 0 and self.gripper_force > 0,
                "gripper_speed and gripper_force must be positive",
            ),
            (self.service_timeout_s > 0, f"service_timeout_s must be positive, got {self.service_timeout_s}"),
        )


@dataclass(frozen=True)
class EvaluateNodeParams(PolicyNodeParams):
    # defaults from the session; the ranges are checked below (their messages are the node's)
    horizon: int = option_from(EvaluationConfig, "horizon", "ticks per rollout (VIP paper: 100)", bounds=None)
    rollouts: int = option_from(
        EvaluationConfig, "rollouts", "rollouts in the session (VIP paper: 10)", bounds=None
    )
    output_dir: str = option(
        "",
        "ledger and rollout episodes ('' = results/<task>/<policy_name>/seed<seed>, like vipflow evaluate)",
    )
    policy_name: str = option("", "column name in the comparison table ('' = the policy directory's name)")
    seed: int = option_from(EvaluationConfig, "seed")
    image_format: str = option_from(EvaluationConfig, "image_format")
    goal: GoalSpec = field(default_factory=GoalSpec)
    judge: str = option(
        "operator", "who judges success: operator (keys) or topic (a simulator)", choices=JUDGES
    )
    success_topic: str = option(
        SIM_SUCCESS_TOPIC, "judge 'topic': std_msgs/Bool, true when the task is done"
    )
    reset_service: str = option(
        SIM_RESET_SERVICE, "judge 'topic': std_srvs/Trigger that starts a new rollout"
    )
    key_topic: str = option(KEY_TOPIC, "operator keys in (std_msgs/String; `ros2 run demo_recorder keys`)")
    prompt_topic: str = option(PROMPT_TOPIC, "prompts out to the operator's terminal (std_msgs/String)")

    def __post_init__(self) -> None:
        super().__post_init__()
        require(
            (self.horizon >= 1, f"horizon must be >= 1 tick per rollout, got {self.horizon}"),
            (self.rollouts >= 1, f"rollouts must be >= 1, got {self.rollouts}"),
        )


def policy_params_from_task(task: TaskConfig) -> dict:
    """The policy-node parameters a task config implies: topics, rate, safety limits."""
    return {
        "task": task.task,
        "rate_hz": task.rate_hz,
        "encoder_runtime": task.encoder.runtime,
        "encoder_precision": task.encoder.precision,
        "command_topic": task.topics.command,
        "controller": task.robot.controller,
        **TopicHardwareConfig.task_params(task),
        **to_flat(task.safety_limits(), "safety."),
    }


def evaluate_params_from_task(task: TaskConfig) -> dict:
    return {
        **policy_params_from_task(task),
        "horizon": task.evaluate.horizon,
        "rollouts": task.evaluate.rollouts,
        "image_format": task.record.image_format,
        **to_flat(task.resolved_goal(), "goal."),
    }
