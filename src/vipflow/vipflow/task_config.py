"""Task configs: one YAML file per task (``config/tasks/<task>.yaml``), one schema, clear errors.

A task config says everything task-specific that the recorder, the reward node, the trainer and
the runtime need: the goal (images, text, or the last frames of the recorded demos), the
encoder, γ and τ, the action space and proprioception, episode and rollout horizons, safety
limits (a base limits file plus overrides), the camera and robot drivers and the ROS topic
names. The ROS launch files and the ``vipflow`` CLI read the same files through
:func:`load_task_config`, so both paths run a task identically.

Relative paths: goal images and the safety limits file are resolved against the YAML file's own
directory (they ship beside it); dataset directories (``record.dataset``) are resolved against
the current directory and ``~`` is expanded, because data lives with the user, not the config.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from vipflow.actions import PROPRIO_FEATURES, action_space
from vipflow.config_schema import ConfigError, deep_merge, from_mapping, load_yaml
from vipflow.config_schema import option as _f
from vipflow.data_root import data_path
from vipflow.encoder_inference import precision_option, runtime_option
from vipflow.runtime.limits import SIM_PROFILE, LimitsError, limits_from_dict

SCHEMA_VERSION = 1
TASK_KINDS = ("real", "sim")
CAMERA_DRIVERS = ("realsense2_camera", "pyrealsense2", "sim")
ROBOT_DRIVERS = ("franka_ros2", "sim")
GOAL_SOURCES = ("dataset", "images", "text")
IMAGE_FORMATS = ("raw", "jpeg", "png")
ENV_CONFIG_DIR = "VIPFLOW_CONFIG_DIR"
# Sane ranges: a count, horizon or rate outside them is a typo that would run without end.
RATE = "[1, 1000]"  # Hz
STEPS = "[2, 100000]"  # ticks per episode or rollout (66 min at 25 Hz)
COUNT = "[1, 10000]"
SECONDS = "[0, 3600]"
PIXELS = "[1, 8192]"


class TaskConfigError(ConfigError):
    """A task config file is missing, unreadable or does not match the schema."""


@dataclass(frozen=True)
class GoalSpec:
    """The goal rewards are measured against (also the ``goal.*`` parameters of the ROS nodes)."""

    source: str = _f("dataset", "where the goal embedding comes from", choices=GOAL_SOURCES)
    text: str = _f("", "goal sentence (LIV text goal; also the episode's goal text)")
    images: tuple[str, ...] = _f((), "goal images (png/jpg) whose mean embedding is the goal")
    dataset: str = _f("", "source 'dataset': directory of the demos ('' in a task file = record.dataset)")
    last_frames: int = _f(1, "source 'dataset': final frames averaged per successful demo", bounds=COUNT)

    def describe(self) -> str:
        """One line for logs and ledgers saying what the goal is."""
        if self.source == "images":
            return f"images: {', '.join(self.images)}"
        if self.source == "text":
            return f"text: {self.text!r}"
        return f"dataset: last {self.last_frames} frame(s) of the successful demos in {self.dataset}"


@dataclass(frozen=True)
class EncoderSpec:
    name: str = _f("vip", "encoder family: vip, r3m, liv or resnet50")
    arch: str = _f("", "architecture ('' = the family's default, e.g. resnet50)")
    weights: str = _f("", "weights file (official .pt or our .safetensors); '' = pass it at launch")
    runtime: str = runtime_option()
    precision: str = precision_option()


@dataclass(frozen=True)
class RewardSpec:
    gamma: float = _f(0.98, "discount γ of the value function (VIP/LIV use 0.98)")


@dataclass(frozen=True)
class PolicySpec:
    algorithm: str = _f("rwr", "offline method: rwr, bc, awr or iql")
    # == WeightingConfig.temperature (vipflow.policy.weights; not imported here: it pulls in torch)
    tau: float = _f(
        1.0, "RWR temperature τ: weight exp(τ·R/σ_R), rewards standardised by their training std "
        "(VIP paper: 0.1; CloseDrawer: 1)", bounds="[0, 1000]",
    )
    action_space: str = _f("ee_delta", "ee_delta (7-D) or joint_delta (8-D)")
    proprio: tuple[str, ...] = _f(("ee_pose", "gripper"), "proprioceptive features the policy observes")


@dataclass(frozen=True)
class RecordSpec:
    dataset: str = _f("", "dataset directory ('' = datasets/<task> under the data root, $VIPFLOW_DATA)")
    episodes: int = _f(20, "demos per recording session", bounds=COUNT)
    horizon: int = _f(50, "steps per demo at rate_hz (VIP paper: 50 steps at 25 Hz)", bounds=STEPS)
    reset_s: float = _f(10.0, "reset time between demos, seconds", bounds=SECONDS)
    image_format: str = _f("raw", "how frames are stored: raw, jpeg or png", choices=IMAGE_FORMATS)


@dataclass(frozen=True)
class EvaluateSpec:
    rollouts: int = _f(10, "evaluation rollouts per policy (VIP paper: 10)", bounds=COUNT)
    horizon: int = _f(100, "steps per rollout (VIP paper: 100)", bounds=STEPS)
    reset_s: float = _f(10.0, "reset time between rollouts, seconds", bounds=SECONDS)


@dataclass(frozen=True)
class SafetySpec:
    limits: str = _f("../safety_default.yaml", "base safety-limits YAML (relative to this file)")
    overrides: dict = _f({}, "per-task changes merged over the base limits (same sections)")


@dataclass(frozen=True)
class CameraSpec:
    driver: str = _f("realsense2_camera", "camera driver", choices=CAMERA_DRIVERS)
    width: int = _f(640, "colour image width, pixels", bounds=PIXELS)
    height: int = _f(480, "colour image height, pixels", bounds=PIXELS)
    fps: int = _f(30, "camera frame rate", bounds=RATE)


@dataclass(frozen=True)
class RobotSpec:
    driver: str = _f("franka_ros2", "robot driver", choices=ROBOT_DRIVERS)
    controller: str = _f(
        "cartesian_impedance_example_controller", "ros2_control controller that tracks the policy's pose"
    )
    teach_controller: str = _f(
        "gravity_compensation_example_controller", "controller active while demos are taught by hand"
    )


@dataclass(frozen=True)
class TopicSpec:
    image: str = _f("/camera/camera/color/image_raw", "colour image in (sensor_msgs/Image)")
    joint_states: str = _f("/joint_states", "arm joint states in (sensor_msgs/JointState)")
    ee_pose: str = _f(
        "/franka_robot_state_broadcaster/current_pose", "end-effector pose in (geometry_msgs/PoseStamped)"
    )
    gripper: str = _f("/franka_gripper/joint_states", "gripper finger joints in (sensor_msgs/JointState)")
    command: str = _f(
        "/cartesian_impedance_example_controller/equilibrium_pose",
        "pose target out (geometry_msgs/PoseStamped)",
    )
    embedding: str = _f("/vip/embedding", "frame embedding out (std_msgs/Float32MultiArray)")
    reward: str = _f("/vip/reward", "[value, reward] out (std_msgs/Float32MultiArray)")


@dataclass(frozen=True)
class TaskConfig:
    version: int = _f(SCHEMA_VERSION, "schema version of this file")
    task: str = _f("", "task name (file name without .yaml)")
    kind: str = _f("real", "real robot or simulated kitchen", choices=TASK_KINDS)
    description: str = _f("", "what success looks like, for the operator")
    rate_hz: float = _f(25.0, "control and recording grid rate (VIP paper: 25 Hz)", bounds=RATE)
    goal: GoalSpec = field(default_factory=GoalSpec)
    encoder: EncoderSpec = field(default_factory=EncoderSpec)
    reward: RewardSpec = field(default_factory=RewardSpec)
    policy: PolicySpec = field(default_factory=PolicySpec)
    record: RecordSpec = field(default_factory=RecordSpec)
    evaluate: EvaluateSpec = field(default_factory=EvaluateSpec)
    safety: SafetySpec = field(default_factory=SafetySpec)
    camera: CameraSpec = field(default_factory=CameraSpec)
    robot: RobotSpec = field(default_factory=RobotSpec)
    topics: TopicSpec = field(default_factory=TopicSpec)
    # Not part of the YAML: where the file was read from (relative paths resolve against it).
    source: str = field(default="", metadata={"help": "path the config was loaded from", "internal": True})

    @property
    def base_dir(self) -> Path:
        return Path(self.source).parent if self.source else Path.cwd()

    @property
    def dataset_dir(self) -> Path:
        """Where this task's demos are recorded: ``record.dataset``, else ``datasets/<task>`` under the
        data root."""
        if not self.record.dataset:
            return data_path("datasets", self.task)
        return Path(os.path.expanduser(self.record.dataset)).absolute()

    @property
    def goal_text(self) -> str:
        return self.goal.text or self.description

    def resolved_goal(self) -> GoalSpec:
        """The goal with paths made absolute and the defaults filled in (what the nodes receive)."""
        return replace(
            self.goal,
            text=self.goal_text,
            images=tuple(str(p) for p in self.goal_image_paths(check=False)),
            dataset=str(self.goal_dataset_dir),
        )

    @property
    def goal_dataset_dir(self) -> Path:
        if not self.goal.dataset:
            return self.dataset_dir
        return Path(os.path.expanduser(self.goal.dataset)).absolute()

    def goal_image_paths(self, *, check: bool = True) -> list[Path]:
        """Goal images resolved against the config's directory; ``check`` demands they exist."""
        paths = [(self.base_dir / os.path.expanduser(p)).resolve() for p in self.goal.images]
        missing = [str(p) for p in paths if not p.is_file()]
        if check and missing:
            raise TaskConfigError(
                f"{self.source or self.task}: goal.images not found: {missing}; photograph the goal "
                "state and put the files there, or switch goal.source to 'dataset'"
            )
        return paths

    @property
    def safety_limits_path(self) -> Path:
        return (self.base_dir / os.path.expanduser(self.safety.limits)).resolve()

    def safety_limits_dict(self) -> dict[str, Any]:
        """The base limits file merged with this task's overrides (a plain nested mapping)."""
        path = self.safety_limits_path
        if not path.is_file():
            raise TaskConfigError(
                f"{self.source or self.task}: safety.limits file {path} not found; point it at "
                "config/safety_default.yaml or a copy of it"
            )
        base = load_yaml(path, TaskConfigError) or {}
        if not isinstance(base, dict):
            raise TaskConfigError(f"{path}: safety limits must be a mapping of sections")
        return deep_merge(base, self.safety.overrides)

    def safety_limits(self):
        """The merged limits as ``vipflow.runtime.limits.SafetyLimits`` (validated there)."""
        try:
            # A simulated task's limits are the simulator's profile (its world frame, model joints).
            profile = SIM_PROFILE if self.kind == "sim" else "franka"
            return limits_from_dict(self.safety_limits_dict(), profile=profile)
        except (LimitsError, TypeError) as exc:
            raise TaskConfigError(f"{self.source or self.task}: safety: {exc}") from exc


def _check(cfg: TaskConfig, where: str) -> None:
    """Cross-field rules the per-field types cannot express."""

    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise TaskConfigError(f"{where}: {msg}")

    need(
        cfg.version == SCHEMA_VERSION,
        f"version {cfg.version} is not supported; this vipflow reads version {SCHEMA_VERSION}",
    )
    need(bool(cfg.task), "task: give the task a name (the file name without .yaml)")
    need(0 < cfg.reward.gamma <= 1, f"reward.gamma must be in (0, 1], got {cfg.reward.gamma}")
    try:
        action_space(cfg.policy.action_space)
    except ValueError as exc:
        raise TaskConfigError(f"{where}: policy.action_space: {exc}") from None
    bad = [k for k in cfg.policy.proprio if k not in PROPRIO_FEATURES]
    need(not bad, f"policy.proprio: unknown features {bad}; choose from {sorted(PROPRIO_FEATURES)}")
    if cfg.goal.source == "images":
        need(bool(cfg.goal.images), "goal.source is 'images' but goal.images is empty; list the goal photos")
    if cfg.goal.source == "text":
        need(bool(cfg.goal_text), "goal.source is 'text' but goal.text is empty; write the goal sentence")
        need(
            cfg.encoder.name == "liv",
            f"goal.source 'text' needs the liv encoder (image-text), not {cfg.encoder.name!r}; "
            "use goal.source 'images' or 'dataset' with image-only encoders",
        )
    cam = cfg.camera
    need(
        cam.fps >= cfg.rate_hz,
        f"camera.fps {cam.fps} is below rate_hz {cfg.rate_hz}: every control tick needs a fresh frame",
    )
    is_sim = cfg.kind == "sim"
    need(
        (cam.driver == "sim") == is_sim and (cfg.robot.driver == "sim") == is_sim,
        f"kind {cfg.kind!r} needs camera.driver and robot.driver "
        + ("'sim'" if is_sim else "of real hardware (realsense2_camera/pyrealsense2, franka_ros2)"),
    )
    topics = list(asdict(cfg.topics).values())
    need(all(t.startswith("/") for t in topics), f"topics must be absolute names (start with /): {topics}")
    need(len(set(topics)) == len(topics), f"topics must be distinct, got {topics}")


def _known_encoders() -> dict[str, tuple[str, ...]]:
    """Encoder family -> its architectures."""
    from vipflow.encoders.families import FAMILIES  # deferred: the registry pulls in torch

    return {name: tuple(family.archs) for name, family in FAMILIES.items()}


def _known_algorithms() -> tuple[str, ...]:
    from vipflow.policy.weights import METHODS  # deferred: the policy package pulls in torch

    return tuple(METHODS)


def task_config_from_dict(data: Any, where: str = "task config", source: str = "") -> TaskConfig:
    """Validate a parsed YAML mapping and return the config (``source`` anchors relative paths)."""
    if isinstance(data, dict) and "source" in data:
        raise TaskConfigError(f"{where}: 'source' is set by the loader, remove it from the file")
    try:
        cfg = from_mapping(TaskConfig, data, "")
    except ConfigError as exc:
        raise TaskConfigError(f"{where}: {exc}") from None
    cfg = replace(cfg, source=source)
    _check(cfg, where)
    encoders, algorithms = _known_encoders(), _known_algorithms()
    if cfg.encoder.name not in encoders:
        raise TaskConfigError(f"{where}: encoder.name {cfg.encoder.name!r} is not one of {list(encoders)}")
    archs = encoders[cfg.encoder.name]
    if cfg.encoder.arch and cfg.encoder.arch not in archs:
        raise TaskConfigError(
            f"{where}: encoder.arch {cfg.encoder.arch!r} is not an architecture of {cfg.encoder.name} "
            f"({list(archs)})"
        )
    if cfg.policy.algorithm not in algorithms:
        raise TaskConfigError(
            f"{where}: policy.algorithm {cfg.policy.algorithm!r} is not one of {list(algorithms)}"
        )
    return cfg


def load_task_config(path: str | Path, *, check_files: bool = True) -> TaskConfig:
    """Read and validate one task YAML; ``check_files`` also opens the safety limits it names."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise TaskConfigError(f"task config {path} not found; list the shipped ones with find_task_configs()")
    data = load_yaml(path, TaskConfigError)
    cfg = task_config_from_dict(data, str(path), source=str(path.resolve()))
    if cfg.task != path.name.removesuffix(".yaml"):
        raise TaskConfigError(f"{path}: task {cfg.task!r} must match the file name {path.stem!r}")
    if check_files:
        cfg.safety_limits()
    return cfg


def config_dirs(extra: list[str | Path] | None = None) -> list[Path]:
    """Where task configs are looked up by name: ``extra``, $VIPFLOW_CONFIG_DIR, ./config."""
    dirs = [Path(p) for p in extra or []]
    if os.environ.get(ENV_CONFIG_DIR):
        dirs += [Path(p) for p in os.environ[ENV_CONFIG_DIR].split(os.pathsep) if p]
    dirs.append(Path.cwd() / "config")
    return dirs


def find_task_configs(dirs: list[Path] | None = None) -> dict[str, Path]:
    """Task name -> YAML path for every ``tasks/*.yaml`` in the config directories (first wins)."""
    found: dict[str, Path] = {}
    for d in dirs if dirs is not None else config_dirs():
        for path in sorted((Path(d) / "tasks").glob("*.yaml")):
            found.setdefault(path.stem, path)
    return found


def resolve_task_config(name_or_path: str | Path, dirs: list[Path] | None = None) -> TaskConfig:
    """Load a task config given a path to a YAML file or a task name found in ``config_dirs``."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix == ".yaml" or candidate.is_file():
        return load_task_config(candidate)
    known = find_task_configs(dirs)
    if str(name_or_path) not in known:
        searched = [str(d / "tasks") for d in (dirs if dirs is not None else config_dirs())]
        raise TaskConfigError(
            f"unknown task {str(name_or_path)!r}; known: {sorted(known)} (searched {searched}); "
            f"pass a YAML path or set ${ENV_CONFIG_DIR}"
        )
    return load_task_config(known[str(name_or_path)])
