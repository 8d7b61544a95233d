"""What each launch file starts, as plain data (no ``launch`` import): the launch plan.

Every launch file (one per task, ``record.launch.py``, ``evaluate.launch.py``) is the same
recipe: declare the arguments below, then, once their values are known, read and validate the
task config and turn it into a list of specs (nodes to run, launch files to include, lines to
log). ``vip_bringup.launch_builder`` converts specs into ``launch`` actions; the tests read the
specs directly, so argument descriptions, node names, executables and every node parameter are
checked against the nodes' own schemas without ROS installed.

Hardware per task kind:
  real  camera (realsense2_camera, or our pyrealsense2 ``camera`` node) + franka_bringup's
        ``franka.launch.py`` + a controller spawner (the Cartesian impedance controller for
        policies, gravity compensation for teaching)
  sim   ``kitchen_sim`` (camera and arm in one node; in record mode a scripted expert moves it)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demo_recorder.params import (
    CameraNodeParams,
    RecorderNodeParams,
    camera_params_from_task,
    recorder_params_from_task,
)
from rwr_policy_node.params import (
    EvaluateNodeParams,
    PolicyNodeParams,
    evaluate_params_from_task,
    policy_params_from_task,
)
from vip_bringup.kitchen_params import KitchenSimParams, kitchen_params_from_task
from vip_reward_node.params import RewardNodeParams, reward_params_from_task
from vipflow.config_schema import ConfigError, from_flat, to_flat
from vipflow.ros.names import SIM_GRIPPER_COMMAND_TOPIC, SIM_RESET_SERVICE, SIM_SUCCESS_TOPIC, SIM_WORLD_FRAME
from vipflow.task_config import TaskConfig, TaskConfigError, find_task_configs, load_task_config

PACKAGE = "vip_bringup"
REALSENSE_NAMESPACE = "camera"
REALSENSE_NAME = "camera"
REALSENSE_IMAGE_TOPIC = f"/{REALSENSE_NAMESPACE}/{REALSENSE_NAME}/color/image_raw"  # realsense-ros >= 4.55
FRANKA_CONTROLLER_MANAGER = "/controller_manager"
LAUNCH_KINDS = ("task", "record", "evaluate")
# kitchen_sim loads MuJoCo and the kitchen scene while the other nodes start: on a small shared
# CPU its first state can take longer than a robot's (10 s), so the nodes wait a minute for it.
SIM_HARDWARE = {"hardware.start_timeout_s": 60.0}


@dataclass(frozen=True)
class LaunchArg:
    name: str
    default: str | None  # None: required
    description: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeSpec:
    package: str
    executable: str
    name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    schema: type | None = None  # our nodes: the parameter schema the node declares
    namespace: str = ""
    arguments: tuple[str, ...] = ()
    remappings: tuple[tuple[str, str], ...] = ()
    params_file: str = ""  # a user's ROS parameter YAML, applied after ``parameters``
    prefix: str = ""  # e.g. "xterm -e" for a node that needs its own terminal
    ends_launch: bool = False  # the launch shuts down when this node exits (a finished session)


@dataclass(frozen=True)
class IncludeSpec:
    package: str
    launch_file: str  # in share/<package>/launch/
    arguments: dict[str, str]


@dataclass(frozen=True)
class LogSpec:
    message: str


Spec = NodeSpec | IncludeSpec | LogSpec

# -- arguments ---------------------------------------------------------------------------------------
COMMON_ARGS = (
    LaunchArg("task_config", "", "task YAML to use instead of the installed config/tasks/<task>.yaml"),
    LaunchArg("device", "cpu", "torch device for the encoder and the policy: cpu, cuda or cuda:N"),
    LaunchArg("encoder_weights", "", "encoder weights file (.pt or .safetensors); overrides the task config"),
    LaunchArg("reward_node", "true", "also run vip_reward_node (live embedding, value and reward)"),
    LaunchArg("params_file", "", "extra ROS parameter YAML applied to our nodes after the task config"),
)
REAL_ARGS = (
    LaunchArg("robot_ip", "172.16.0.2", "real tasks: IP or hostname of the Franka control box (FCI)"),
    LaunchArg("robot_type", "fr3", "real tasks: franka_description robot type"),
    LaunchArg("load_gripper", "true", "real tasks: start the Franka Hand driver"),
    LaunchArg("use_fake_hardware", "false", "real tasks: ros2_control mock hardware instead of the robot"),
    LaunchArg(
        "controllers_yaml", "", "real tasks: controller_manager YAML ('' = vip_bringup's franka_controllers)"
    ),
    LaunchArg("camera_driver", "", "real tasks: realsense2_camera or pyrealsense2 ('' = the task config's)"),
    LaunchArg("camera_serial", "", "real tasks: RealSense serial number ('' = the first camera found)"),
)
KEYS_ARG = LaunchArg(
    "keys_prefix",
    "",
    "run the keys tool in a new terminal with this prefix, e.g. 'xterm -e' ('' = run it yourself)",
)


def launch_arguments(kind: str, task: TaskConfig | None, tasks: list[str]) -> list[LaunchArg]:
    """The arguments of one launch file; ``task`` is fixed for per-task files, None otherwise."""
    real = task is None or task.kind == "real"
    args = list(COMMON_ARGS) + (list(REAL_ARGS) if real else [])
    if kind == "task":
        args += [
            LaunchArg("policy", "", "policy checkpoint (run dir, checkpoint dir or file); '' = rewards only"),
            LaunchArg(
                "autostart", "false", "start the policy at once (otherwise: ros2 service call ~/start)"
            ),
            LaunchArg("horizon", "0", "ticks per start of the policy (0 = until ~/stop)"),
        ]
    elif kind == "record":
        args += [
            LaunchArg("task", None, "task to record (its config/tasks/<task>.yaml)", tuple(tasks)),
            LaunchArg("num_episodes", "", "demos to record ('' = the task config's record.episodes)"),
            LaunchArg("dataset", "", "dataset directory ('' = the task config's record.dataset)"),
            LaunchArg("operator", "", "who records (stored with every episode)"),
            LaunchArg("resume", "false", "continue numbering in a dataset that already holds episodes"),
            KEYS_ARG,
        ]
    elif kind == "evaluate":
        args += [
            LaunchArg("policy", None, "policy checkpoint to evaluate (run dir, checkpoint dir or file)"),
            LaunchArg("task", "", "task ('' = the policy's only task)", ("", *tasks)),
            LaunchArg(
                "rollouts", "", "rollouts ('' = the task config's evaluate.rollouts, 10 for the paper)"
            ),
            LaunchArg("horizon", "", "ticks per rollout ('' = the task config's evaluate.horizon)"),
            LaunchArg(
                "policy_name", "", "column name in the comparison table ('' = the policy directory's name)"
            ),
            LaunchArg("seed", "0", "seed of the evaluation (one ledger per seed)"),
            LaunchArg("output_dir", "", "ledger and rollouts ('' = results/<task>/<policy_name>/seed<seed>)"),
            KEYS_ARG,
        ]
    else:
        raise ValueError(f"unknown launch kind {kind!r}; one of {LAUNCH_KINDS}")
    return args


# -- the plan ----------------------------------------------------------------------------------------
def _flag(values: dict[str, str], name: str) -> bool:
    value = values.get(name, "false").strip().lower()
    if value not in ("true", "false"):
        raise ConfigError(f"launch argument {name}:={value!r} must be true or false")
    return value == "true"


def _node_params(schema: type, params: dict[str, Any], node: str) -> dict[str, Any]:
    """Validate against the node's schema now (a bad value fails the launch, not the node later)
    and return ROS-ready values (floats stay floats, tuples become lists)."""
    try:
        return to_flat(from_flat(schema, params, where=node))
    except ConfigError as exc:
        raise ConfigError(f"launch: {exc}") from None


def _our_node(
    package: str, executable: str, name: str, schema: type, params: dict, values: dict, **kw
) -> NodeSpec:
    return NodeSpec(
        package,
        executable,
        name,
        _node_params(schema, params, name),
        schema=schema,
        params_file=values.get("params_file", ""),
        **kw,
    )


def task_config_path(values: dict[str, str], share: Path, task: str) -> Path:
    return (
        Path(values["task_config"]).expanduser()
        if values.get("task_config")
        else share / "config" / "tasks" / f"{task}.yaml"
    )


def load_task(values: dict[str, str], share: Path, task: str) -> TaskConfig:
    cfg = load_task_config(task_config_path(values, share, task))
    if cfg.task != task:
        raise TaskConfigError(f"task_config is for task {cfg.task!r}, but this launch runs {task!r}")
    return cfg


def hardware_specs(
    task: TaskConfig, values: dict[str, str], share: Path, mode: str, seed: int = 0
) -> list[Spec]:
    """Camera and arm: real drivers, or the simulated kitchen (``mode``: task, record or evaluate)."""
    if task.kind == "sim":
        params = kitchen_params_from_task(task, expert=mode == "record", seed=seed)
        return [_our_node(PACKAGE, "kitchen_sim", "kitchen_sim", KitchenSimParams, params, values)]
    specs: list[Spec] = []
    driver = values.get("camera_driver") or task.camera.driver
    serial = values.get("camera_serial", "")
    if driver == "realsense2_camera":
        c = task.camera
        params = {
            "enable_color": True,
            "enable_depth": False,
            "rgb_camera.color_profile": f"{c.width}x{c.height}x{c.fps}",
            "rgb_camera.color_format": "RGB8",
        }
        if serial:
            params["serial_no"] = serial
        remap = (
            ()
            if task.topics.image == REALSENSE_IMAGE_TOPIC
            else ((REALSENSE_IMAGE_TOPIC, task.topics.image),)
        )
        specs.append(
            NodeSpec(
                "realsense2_camera",
                "realsense2_camera_node",
                REALSENSE_NAME,
                params,
                namespace=REALSENSE_NAMESPACE,
                remappings=remap,
            )
        )
    elif driver == "pyrealsense2":
        params = {"backend": "pyrealsense2", **camera_params_from_task(task, serial)}
        specs.append(_our_node("demo_recorder", "camera", "camera", CameraNodeParams, params, values))
    else:
        raise ConfigError(
            f"launch argument camera_driver:={driver!r}: choose realsense2_camera or pyrealsense2"
        )
    controllers = values.get("controllers_yaml") or str(share / "config" / "franka_controllers.yaml")
    specs.append(
        IncludeSpec(
            "franka_bringup",
            "franka.launch.py",
            {
                "robot_ip": values["robot_ip"],
                "robot_type": values["robot_type"],
                "load_gripper": values["load_gripper"],
                "use_fake_hardware": values["use_fake_hardware"],
                "controllers_yaml": controllers,
            },
        )
    )
    controller = task.robot.teach_controller if mode == "record" else task.robot.controller
    if controller:
        specs.append(
            NodeSpec(
                "controller_manager",
                "spawner",
                f"spawner_{controller}",
                arguments=(controller, "--controller-manager", FRANKA_CONTROLLER_MANAGER),
            )
        )
    return specs


def reward_spec(task: TaskConfig, values: dict[str, str]) -> list[Spec]:
    if not _flag(values, "reward_node"):
        return []
    params = reward_params_from_task(
        task, encoder_weights=values.get("encoder_weights", ""), device=values["device"]
    )
    return [
        _our_node("vip_reward_node", "vip_reward_node", "vip_reward_node", RewardNodeParams, params, values)
    ]


def _hardware_overrides(task: TaskConfig, values: dict[str, str]) -> dict[str, Any]:
    """Real robots: joint, finger and frame names follow robot_type; no gripper topic without a hand."""
    if task.kind == "sim":
        return {}
    robot = values["robot_type"]
    out: dict[str, Any] = {
        "hardware.joint_names": [f"{robot}_joint{i}" for i in range(1, 8)],
        "hardware.finger_joint_names": [f"{robot}_finger_joint{i}" for i in (1, 2)],
        "hardware.base_frame": f"{robot}_link0",
    }
    if not _flag(values, "load_gripper"):
        out["hardware.gripper_topic"] = ""  # nobody publishes it: don't wait for it
    return out


def _sim_policy_overrides(task: TaskConfig) -> dict[str, Any]:
    """The simulator bridge has no franka_msgs actions or FCI: gripper widths go on a topic; pose
    targets are in the kitchen's world frame, where it reports the hand."""
    if task.kind != "sim":
        return {}
    return {
        **SIM_HARDWARE,
        "hardware.base_frame": SIM_WORLD_FRAME,
        "gripper_command_topic": SIM_GRIPPER_COMMAND_TOPIC,
        "gripper_move_action": "",
        "gripper_grasp_action": "",
        "error_recovery_action": "",
        "hardware_component": "",
        "controller": "",
    }


def _policy_overrides(task: TaskConfig, values: dict[str, str]) -> dict[str, Any]:
    """Launch arguments and backend changes common to both policy-node modes (run, evaluate)."""
    return {
        **_hardware_overrides(task, values),
        **_sim_policy_overrides(task),
        "policy": values["policy"],
        "encoder_weights": values.get("encoder_weights") or task.encoder.weights,
        "device": values["device"],
    }


def _keys_specs(values: dict[str, str]) -> list[Spec]:
    prefix = values.get("keys_prefix", "")
    if prefix:
        return [NodeSpec("demo_recorder", "keys", "keys", prefix=prefix)]
    return [
        LogSpec(
            "operator keys: run `ros2 run demo_recorder keys` in a terminal (space start, s/f label, q quit)"
        )
    ]


def plan_task(task_name: str, values: dict[str, str], share: Path) -> list[Spec]:
    """``<task>.launch.py``: hardware + reward node + the policy, started by ~/start (or autostart)."""
    task = load_task(values, share, task_name)
    specs = hardware_specs(task, values, share, "task") + reward_spec(task, values)
    if values.get("policy"):
        params = {
            **policy_params_from_task(task),
            **_policy_overrides(task, values),
            "autostart": _flag(values, "autostart"),
            "horizon": int(values.get("horizon") or 0),
        }
        specs.append(
            _our_node(
                "rwr_policy_node", "rwr_policy_node", "rwr_policy_node", PolicyNodeParams, params, values
            )
        )
    else:
        specs.append(LogSpec(f"{task.task}: no policy:=... given, running camera, robot and rewards only"))
    return specs


def plan_record(values: dict[str, str], share: Path) -> list[Spec]:
    """``record.launch.py task:=... num_episodes:=20``: hardware in teaching mode + the recorder."""
    task = load_task(values, share, values["task"])
    params = {**recorder_params_from_task(task), **_hardware_overrides(task, values)}
    if values.get("num_episodes"):
        params["num_episodes"] = int(values["num_episodes"])
    if values.get("dataset"):
        params["dataset"] = str(Path(values["dataset"]).expanduser().absolute())
    params.update(operator=values.get("operator", ""), resume=_flag(values, "resume"))
    if task.kind == "sim":
        params["tags"] = ["sim", "scripted-expert"]
        # kitchen_sim publishes each state once per tick: sampling faster records duplicates, and
        # the episode's nominal state rate would not match what arrived (CadenceOutOfTolerance)
        params["state_rate_hz"] = kitchen_params_from_task(task)["rate_hz"]
        params.update(SIM_HARDWARE)
        params["reset_service"] = SIM_RESET_SERVICE  # a new scene before each start key, not after it
        params["camera_timeout_s"] = 5.0  # the kitchen publishes nothing while it resets (loaded CPU: long)
    recorder = _our_node(
        "demo_recorder",
        "demo_recorder",
        "demo_recorder",
        RecorderNodeParams,
        params,
        values,
        ends_launch=True,
    )
    return (
        hardware_specs(task, values, share, "record")
        + reward_spec(task, values)
        + [recorder]
        + _keys_specs(values)
    )


def policy_task(values: dict[str, str]) -> str:
    """The evaluation's task: ``task:=``, else the policy checkpoint's only task."""
    if values.get("task"):
        return values["task"]
    import json

    from vipflow.policy.checkpoint import POLICY_JSON, resolve_checkpoint
    from vipflow.policy.policy_config import PolicyConfig

    checkpoint = resolve_checkpoint(Path(values["policy"]).expanduser())  # CheckpointError names the fix
    try:
        return PolicyConfig.from_json(json.loads((checkpoint / POLICY_JSON).read_text())).only_task()
    except ValueError as exc:
        raise ConfigError(f"policy {values['policy']} {exc}; choose one with task:=<name>") from None


def plan_evaluate(values: dict[str, str], share: Path) -> list[Spec]:
    """``evaluate.launch.py policy:=... rollouts:=10``: hardware + the evaluation session."""
    task = load_task(values, share, policy_task(values))
    seed = int(values["seed"] or 0)
    params = {
        **evaluate_params_from_task(task),
        **_policy_overrides(task, values),
        "seed": seed,
        "policy_name": values.get("policy_name", ""),
        "output_dir": str(Path(values["output_dir"]).expanduser().absolute())
        if values.get("output_dir")
        else "",
    }
    if values.get("rollouts"):
        params["rollouts"] = int(values["rollouts"])
    if values.get("horizon"):
        params["horizon"] = int(values["horizon"])
    if task.kind == "sim":  # the simulator resets and judges itself
        params.update(judge="topic", success_topic=SIM_SUCCESS_TOPIC, reset_service=SIM_RESET_SERVICE)
    evaluator = _our_node(
        "rwr_policy_node", "evaluate", "evaluate", EvaluateNodeParams, params, values, ends_launch=True
    )
    hardware = hardware_specs(task, values, share, "evaluate", seed)
    return hardware + reward_spec(task, values) + [evaluator] + _keys_specs(values)


def known_tasks(share: Path) -> list[str]:
    return sorted(find_task_configs([share / "config"]))


def plan(kind: str, values: dict[str, str], share: Path, task: str | None = None) -> list[Spec]:
    if kind == "task":
        return plan_task(str(task), values, share)
    if kind == "record":
        return plan_record(values, share)
    if kind == "evaluate":
        return plan_evaluate(values, share)
    raise ValueError(f"unknown launch kind {kind!r}; one of {LAUNCH_KINDS}")
