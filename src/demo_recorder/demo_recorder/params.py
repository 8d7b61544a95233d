"""Parameters of the demo_recorder nodes (ROS-free: the launch files and the tests read them)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from vipflow.config_schema import option, option_from, require
from vipflow.record.session import SessionConfig
from vipflow.ros.remote_keys import KEY_TOPIC, PROMPT_TOPIC
from vipflow.ros.topic_hardware import TopicHardwareConfig
from vipflow.task_config import TaskConfig, TopicSpec

CAMERA_BACKENDS = ("pyrealsense2", "replay")
# Unread messages the recorder keeps per input, in its DDS queues and its camera (1 s at 30 fps):
# when its process is descheduled on a busy CPU it still writes every frame and state that arrived.
INPUT_BACKLOG = 30


@dataclass(frozen=True)
class RecorderNodeParams:
    """The session's settings (declared by ``SessionConfig``: defaults, ranges, help) as ROS
    parameters, plus where the node finds its keys and hardware."""

    task: str = option("", "task name stored with every episode")
    dataset: str = option("", "dataset directory (created if missing)")
    num_episodes: int = option_from(SessionConfig, "num_episodes")
    episode_time_s: float = option_from(SessionConfig, "episode_time_s")
    reset_time_s: float = option_from(SessionConfig, "reset_time_s")
    auto_start: bool = option_from(SessionConfig, "auto_start")
    resume: bool = option_from(SessionConfig, "resume")
    goal_text: str = option_from(SessionConfig, "goal_text")
    operator: str = option_from(SessionConfig, "operator")
    tags: tuple[str, ...] = option_from(SessionConfig, "tags", "tags stored with every episode")
    image_format: str = option_from(SessionConfig, "image_format")
    rate_hz: float = option_from(SessionConfig, "nominal_rate_hz")
    state_rate_hz: float = option_from(SessionConfig, "state_rate_hz")
    camera_timeout_s: float = option_from(SessionConfig, "camera_timeout_s")
    key_topic: str = option(KEY_TOPIC, "operator keys in (std_msgs/String; `ros2 run demo_recorder keys`)")
    prompt_topic: str = option(PROMPT_TOPIC, "prompts out to the operator's terminal (std_msgs/String)")
    reset_service: str = option(
        "", "std_srvs/Trigger called before each demo's start key: a simulator's new scene ('' = by hand)"
    )
    service_timeout_s: float = option(10.0, "how long reset_service may take to answer")
    hardware: TopicHardwareConfig = field(default_factory=TopicHardwareConfig)

    def session_config(self) -> SessionConfig:
        """The session these parameters describe: the fields both share, ``rate_hz`` as the
        session's ``nominal_rate_hz``, the dataset as a path, ``source`` ros2."""
        shared = {f.name for f in fields(SessionConfig)} & {f.name for f in fields(self)}
        values = {name: getattr(self, name) for name in shared}
        values.update(dataset=Path(self.dataset).expanduser(), nominal_rate_hz=self.rate_hz, source="ros2")
        return SessionConfig(**values)

    def __post_init__(self) -> None:
        require(
            (self.num_episodes >= 1, f"num_episodes must be >= 1, got {self.num_episodes}"),
            (self.episode_time_s > 0, f"episode_time_s must be positive, got {self.episode_time_s}"),
            (self.reset_time_s >= 0, f"reset_time_s must be >= 0, got {self.reset_time_s}"),
            (self.rate_hz > 0 and self.state_rate_hz > 0, "rate_hz and state_rate_hz must be positive"),
            (self.camera_timeout_s > 0, f"camera_timeout_s must be positive, got {self.camera_timeout_s}"),
            (self.service_timeout_s > 0, f"service_timeout_s must be positive, got {self.service_timeout_s}"),
        )


@dataclass(frozen=True)
class CameraNodeParams:
    backend: str = option(
        "pyrealsense2", "pyrealsense2 (a RealSense) or replay (an mp4 or episode)", choices=CAMERA_BACKENDS
    )
    image_topic: str = option_from(TopicSpec, "image", "sensor_msgs/Image out (rgb8)")
    width: int = option(640, "pyrealsense2: colour width")
    height: int = option(480, "pyrealsense2: colour height")
    fps: int = option(30, "pyrealsense2: frame rate")
    serial: str = option("", "pyrealsense2: device serial number ('' = the first camera)")
    replay_path: str = option("", "replay: an mp4 file or a recorded episode directory")
    replay_loop: bool = option(True, "replay: start over at the end of the recording")
    read_timeout_s: float = option(2.0, "report the camera as silent after this long")

    def __post_init__(self) -> None:
        require(
            (self.width > 0 and self.height > 0 and self.fps > 0, "width, height and fps must be positive"),
            (self.read_timeout_s > 0, f"read_timeout_s must be positive, got {self.read_timeout_s}"),
        )


def recorder_params_from_task(task: TaskConfig) -> dict:
    """The recorder parameters a task config implies (launch arguments override some)."""
    return {
        "task": task.task,
        "dataset": str(task.dataset_dir),
        "num_episodes": task.record.episodes,
        "episode_time_s": task.record.horizon / task.rate_hz,
        "reset_time_s": task.record.reset_s,
        "goal_text": task.goal_text,
        "image_format": task.record.image_format,
        "rate_hz": task.rate_hz,
        **TopicHardwareConfig.task_params(task),
    }


def camera_params_from_task(task: TaskConfig, serial: str = "") -> dict:
    c = task.camera
    return {
        "image_topic": task.topics.image,
        "width": c.width,
        "height": c.height,
        "fps": c.fps,
        "serial": serial,
    }


@dataclass(frozen=True)
class KeysNodeParams:
    key_topic: str = option(KEY_TOPIC, "key presses out (std_msgs/String)")
    prompt_topic: str = option(PROMPT_TOPIC, "prompts in, printed on this terminal (std_msgs/String)")
