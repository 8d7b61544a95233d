"""Launch files and launch plans, checked without ROS.

Each launch file parses and calls the shared builder; every argument is documented, used, and
nothing undeclared is read; every node a plan starts exists (a console script) and gets only
parameters of the schema its node module really declares; topics connect (each input has a
publisher in the same launch, each command a consumer); spawned controllers are registered in
the controllers YAML; launch arguments reach the nodes; bad values fail with named errors.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from package_info import PACKAGES, console_scripts

from demo_recorder.params import RecorderNodeParams
from rwr_policy_node.params import EvaluateNodeParams, PolicyNodeParams
from vip_bringup.kitchen_params import KitchenSimParams
from vip_bringup.plan import (
    FRANKA_CONTROLLER_MANAGER,
    REALSENSE_IMAGE_TOPIC,
    IncludeSpec,
    LogSpec,
    NodeSpec,
    known_tasks,
    launch_arguments,
    plan,
)
from vip_reward_node.params import RewardNodeParams
from vipflow.config_schema import ConfigError, from_flat, param_specs
from vipflow.policy import CheckpointError
from vipflow.ros.remote_keys import KEY_TOPIC, PROMPT_TOPIC
from vipflow.task_config import TaskConfigError, load_task_config

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "launch"
TASKS = known_tasks(ROOT)
BUILDERS = {
    "task_launch_description": "task",
    "record_launch_description": "record",
    "evaluate_launch_description": "evaluate",
}
FRANKA_TOPICS = ("/joint_states", "/franka_robot_state_broadcaster/current_pose")
FRANKA_GRIPPER_TOPIC = "/franka_gripper/joint_states"


def _launch_target(path: Path) -> tuple[str, list]:
    """(builder function, literal arguments) that generate_launch_description returns."""
    tree = ast.parse(path.read_text(), str(path))
    imported = {
        a.name
        for n in tree.body
        if isinstance(n, ast.ImportFrom) and n.module == "vip_bringup.launch_builder"
        for a in n.names
    }
    funcs = [
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description"
    ]
    assert len(funcs) == 1, f"{path.name}: needs one generate_launch_description()"
    assert not funcs[0].args.args
    ret = funcs[0].body[-1]
    assert isinstance(ret, ast.Return) and isinstance(ret.value, ast.Call), (
        f"{path.name}: must return a builder call"
    )
    name = ret.value.func.id
    assert name in BUILDERS and name in imported, (
        f"{path.name}: returns {name}, not an imported shared builder"
    )
    return name, [ast.literal_eval(a) for a in ret.value.args]


def _launch_files() -> list[Path]:
    return sorted(LAUNCH.glob("*.launch.py"))


def _cases() -> list[tuple[str, str | None]]:
    """(kind, fixed task) of every launch file."""
    out = []
    for path in _launch_files():
        builder, args = _launch_target(path)
        out.append((BUILDERS[builder], args[0] if args else None))
    return out


def test_every_launch_file_parses_and_calls_the_shared_builder():
    seen = {}
    for path in _launch_files():
        builder, args = _launch_target(path)
        kind = BUILDERS[builder]
        if kind == "task":
            assert args == [path.name.removesuffix(".launch.py")], f"{path.name} launches {args}"
        else:
            assert path.name == f"{kind}.launch.py" and args == []
        seen[path.name] = kind
    assert {n.removesuffix(".launch.py") for n, k in seen.items() if k == "task"} == set(TASKS)
    assert {"record.launch.py", "evaluate.launch.py"} <= set(seen)
    assert {
        "fold_towel",
        "close_drawer",
        "push_bottle",
        "place_melon",
        "slide_cabinet",
        "microwave",
        "hinge_cabinet",
        "light_switch",
    } <= set(TASKS)


def _args(kind: str, task: str | None):
    config = load_task_config(ROOT / "config" / "tasks" / f"{task}.yaml") if task else None
    return launch_arguments(kind, config, TASKS)


@pytest.mark.parametrize(("kind", "task"), _cases())
def test_every_argument_is_documented(kind, task):
    args = _args(kind, task)
    names = [a.name for a in args]
    assert len(names) == len(set(names)), f"duplicate arguments {names}"
    for a in args:
        assert re.fullmatch(r"[a-z_]+", a.name)
        assert (len(a.description) > 15 and a.description[0].islower()) or a.description[0].isupper()
        assert a.default is None or isinstance(a.default, str)
        if a.choices and a.default is not None:
            assert a.default in a.choices
    required = {a.name for a in args if a.default is None}
    assert required == {"task": {"task"}, "record": {"task"}, "evaluate": {"policy"}}.get(kind, set()) - (
        {"task"} if kind == "task" else set()
    )
    if task and load_task_config(ROOT / "config" / "tasks" / f"{task}.yaml").kind == "sim":
        assert "robot_ip" not in names  # a simulated task shows no robot arguments
    elif kind != "evaluate" or task is None:
        assert {"robot_ip", "camera_driver", "use_fake_hardware"} <= set(names)


@pytest.mark.parametrize("path", _launch_files(), ids=lambda p: p.name)
def test_launch_docstring_examples_use_declared_arguments(path):
    builder, args = _launch_target(path)
    declared = {a.name for a in _args(BUILDERS[builder], args[0] if args else None)}
    doc = ast.get_docstring(ast.parse(path.read_text()))
    used = set(re.findall(r"(\w+):=", doc))
    assert used, f"{path.name}: show an example invocation in the docstring"
    assert used <= declared, f"{path.name} documents undeclared arguments {used - declared}"


class Recorder(dict):
    """Launch values that remember which ones the plan read."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.read: set[str] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


def _values(kind: str, fixed_task: str | None, **overrides: str) -> Recorder:
    values = {a.name: a.default or "" for a in _args(kind, fixed_task)}
    values.update(overrides)
    return Recorder(values)


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory):
    """A real checkpoint directory (random weights) naming one task."""
    from vipflow.policy import EncoderRef, Normalization, PolicyConfig, build_policy_net, save_policy

    def make(tasks: tuple[str, ...]) -> Path:
        rng = np.random.default_rng(0)
        config = PolicyConfig(
            encoder=EncoderRef("vip", "convnet-small", "f" * 64, 16),
            action_space="ee_delta",
            proprio_keys=("ee_pose", "gripper"),
            normalization=Normalization.fit(rng.normal(size=(20, 24)), rng.normal(size=(20, 7))),
            task_conditioning="onehot" if len(tasks) > 1 else "none",
            tasks=tasks,
            task_dim=len(tasks) if len(tasks) > 1 else 0,
            hidden_sizes=(8,),
        )
        net = build_policy_net(config.input_dim, config.action_dim, config.hidden_sizes, config.head)
        table = np.eye(len(tasks), dtype=np.float32) if len(tasks) > 1 else None
        return save_policy(tmp_path_factory.mktemp("policy") / "ckpt", net, config, table)

    return make


def _plan(kind, task, policy_dir=None, **overrides):
    extra = {}
    if kind == "task":
        extra["policy"] = "runs/some-policy"
    if kind == "record":
        extra["task"] = task
    if kind == "evaluate":
        extra.update(task=task, policy=str(policy_dir((task,))) if policy_dir else "runs/p")
    values = _values(kind, None if kind != "task" else task, **{**extra, **overrides})
    return values, plan(kind, values, ROOT, task if kind == "task" else None)


ALL_PLANS = [(kind, task) for kind in ("task", "record", "evaluate") for task in TASKS]


@pytest.mark.parametrize(("kind", "task"), ALL_PLANS)
def test_every_declared_argument_is_read_and_nothing_undeclared(kind, task):
    values, specs = _plan(kind, task)
    assert specs
    declared = set(values)
    assert values.read <= declared, f"the plan reads undeclared arguments {values.read - declared}"
    unread = declared - values.read
    # per-kind arguments that only matter on the other hardware (checked in the other kind's run)
    if load_task_config(ROOT / "config" / "tasks" / f"{task}.yaml").kind == "sim":
        unread -= {
            "robot_ip",
            "robot_type",
            "load_gripper",
            "use_fake_hardware",
            "controllers_yaml",
            "camera_driver",
            "camera_serial",
        }
    else:
        unread -= {"seed"} if kind != "evaluate" else set()
    assert not unread, f"{kind} launch declares arguments the plan never uses: {unread}"


def _node_module(spec: NodeSpec) -> Path:
    module, _func = console_scripts(spec.package)[spec.executable]
    return ROOT / "src" / spec.package / (module.replace(".", "/") + ".py")


def _node_class_facts(spec: NodeSpec) -> tuple[str, set[str]]:
    """(node name passed to rclpy, names referenced in the node class's __init__ chain)."""
    path = _node_module(spec)
    tree = ast.parse(path.read_text())
    _module, func = console_scripts(spec.package)[spec.executable]
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == func)
    spin_call = next(
        c for c in ast.walk(main) if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "spin"
    )
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    cls, names, node_name = classes[spin_call.args[1].id], set(), None
    while cls is not None:
        init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
        names |= {n.id for n in ast.walk(init) if isinstance(n, ast.Name)}
        for call in ast.walk(init):
            is_super_init = (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "__init__"
            )
            if is_super_init and node_name is None and call.args and isinstance(call.args[0], ast.Constant):
                node_name = call.args[0].value
        base = cls.bases[0].id if cls.bases and isinstance(cls.bases[0], ast.Name) else None
        cls = classes.get(base)
    return node_name, names


@pytest.mark.parametrize(("kind", "task"), ALL_PLANS)
def test_nodes_exist_and_get_only_parameters_their_node_declares(kind, task):
    _, specs = _plan(kind, task)
    ours = [s for s in specs if isinstance(s, NodeSpec) and s.package in PACKAGES]
    assert ours
    for spec in ours:
        assert spec.executable in console_scripts(spec.package), (
            f"{spec.package} has no executable {spec.executable}"
        )
        if spec.executable == "keys":
            continue
        assert spec.schema is not None
        node_name, names = _node_class_facts(spec)
        assert node_name == spec.name, (
            f"{spec.executable}: node is named {node_name!r} in code, {spec.name!r} here"
        )
        assert "declare_parameters" in _node_module(spec).read_text()
        assert spec.schema.__name__ in names, f"{spec.executable} does not declare {spec.schema.__name__}"
        declared = {p.name for p in param_specs(spec.schema)}
        assert set(spec.parameters) <= declared, set(spec.parameters) - declared
        from_flat(spec.schema, spec.parameters)  # values have the declared types (raises otherwise)


def _graph(specs, values):
    """(topics published, [(node, topic) subscribed], services offered) of a plan."""
    pubs, subs, services = set(), [], set()
    for s in specs:
        if isinstance(s, IncludeSpec) and s.package == "franka_bringup":
            pubs |= set(FRANKA_TOPICS) | (
                {FRANKA_GRIPPER_TOPIC} if s.arguments["load_gripper"] == "true" else set()
            )
            continue
        if not isinstance(s, NodeSpec):
            continue
        p = s.parameters
        if s.package == "realsense2_camera":
            pubs.add(dict(s.remappings).get(REALSENSE_IMAGE_TOPIC, REALSENSE_IMAGE_TOPIC))
        elif s.package == "controller_manager":
            subs_of_controller = f"/{s.arguments[0]}/equilibrium_pose"
            pubs.add(("consumer", subs_of_controller))
        elif s.executable == "camera":
            pubs.add(p["image_topic"])
        elif s.executable == "kitchen_sim":
            pubs |= {
                p[k]
                for k in (
                    "image_topic",
                    "joint_states_topic",
                    "ee_pose_topic",
                    "gripper_topic",
                    "success_topic",
                )
            }
            pubs |= {("consumer", p["command_topic"]), ("consumer", p["gripper_command_topic"])}
            services.add(p["reset_service"])
            subs.append((s.name, "keys", p["key_topic"]))
        elif s.executable == "vip_reward_node":
            subs.append((s.name, "input", p["image_topic"]))
        elif s.executable == "keys":
            continue
        else:  # recorder, policy node, evaluator
            for key in ("image_topic", "joint_states_topic", "ee_pose_topic", "gripper_topic"):
                if p.get(f"hardware.{key}", "-") != "":
                    subs.append(
                        (
                            s.name,
                            "input",
                            p.get(f"hardware.{key}") or param_default(s.schema, f"hardware.{key}"),
                        )
                    )
            if "command_topic" in p:
                subs.append((s.name, "command", p["command_topic"]))
            if p.get("gripper_command_topic"):
                subs.append((s.name, "command", p["gripper_command_topic"]))
            if p.get("judge") == "topic":
                subs.append((s.name, "input", p["success_topic"]))
            if p.get("judge") == "topic" or (s.executable == "demo_recorder" and p.get("reset_service")):
                subs.append((s.name, "service", p["reset_service"]))
            if s.executable in ("demo_recorder", "evaluate"):
                subs.append((s.name, "keys", p.get("key_topic", KEY_TOPIC)))
                assert p.get("prompt_topic", PROMPT_TOPIC) == PROMPT_TOPIC
    return pubs, subs, services


def param_default(schema, name):
    return next(s.default for s in param_specs(schema) if s.name == name)


@pytest.mark.parametrize(("kind", "task"), ALL_PLANS)
@pytest.mark.parametrize("gripper", ["true", "false"])
def test_topics_connect(kind, task, gripper):
    values, specs = _plan(kind, task, load_gripper=gripper)
    pubs, subs, services = _graph(specs, values)
    for node, role, topic in subs:
        if role == "input":
            assert topic in pubs, (
                f"{kind}/{task}: {node} listens to {topic}, which nothing in the launch publishes"
            )
        elif role == "command":
            assert ("consumer", topic) in pubs, (
                f"{kind}/{task}: {node} commands {topic}, which nobody consumes"
            )
        elif role == "service":
            assert topic in services, f"{kind}/{task}: {node} calls {topic}, which nothing offers"
        elif role == "keys":
            assert topic == KEY_TOPIC, f"{node} takes keys from {topic}, the keys tool sends on {KEY_TOPIC}"


@pytest.mark.parametrize("kind", ["task", "record", "evaluate"])
def test_spawned_controllers_are_registered(kind):
    registered = yaml.safe_load((ROOT / "config" / "franka_controllers.yaml").read_text())["/**"]
    manager = registered["controller_manager"]["ros__parameters"]
    # franka.launch.py spawns these two itself
    assert {"joint_state_broadcaster", "franka_robot_state_broadcaster"} <= set(manager)
    for task in TASKS:
        if load_task_config(ROOT / "config" / "tasks" / f"{task}.yaml").kind == "sim":
            continue
        _, specs = _plan(kind, task)
        spawned = [s for s in specs if isinstance(s, NodeSpec) and s.executable == "spawner"]
        assert len(spawned) == 1
        controller = spawned[0].arguments[0]
        assert spawned[0].arguments[1:] == ("--controller-manager", FRANKA_CONTROLLER_MANAGER)
        assert manager[controller]["type"].startswith("franka_example_controllers/")
        include = next(s for s in specs if isinstance(s, IncludeSpec))
        assert include.arguments["controllers_yaml"] == str(ROOT / "config" / "franka_controllers.yaml")


def _node(specs, executable) -> NodeSpec:
    return next(s for s in specs if isinstance(s, NodeSpec) and s.executable == executable)


def test_launch_arguments_reach_the_nodes(policy_dir, tmp_path):
    _v, specs = _plan(
        "record",
        "push_bottle",
        num_episodes="5",
        dataset=str(tmp_path / "d"),
        operator="ana",
        resume="true",
        encoder_weights="/w/vip.pt",
        device="cuda:1",
        robot_type="fr3v2",
    )
    rec = _node(specs, "demo_recorder").parameters
    assert rec["num_episodes"] == 5 and rec["dataset"] == str(tmp_path / "d") and rec["operator"] == "ana"
    assert rec["resume"] is True and rec["episode_time_s"] == 2.0  # 50 steps at 25 Hz
    assert rec["hardware.joint_names"][0] == "fr3v2_joint1" and rec["hardware.base_frame"] == "fr3v2_link0"
    reward = _node(specs, "vip_reward_node").parameters
    assert reward["encoder_weights"] == "/w/vip.pt" and reward["device"] == "cuda:1"
    assert reward["goal.source"] == "dataset" and reward["goal.dataset"].endswith("datasets/push_bottle")
    assert _node(specs, "spawner").arguments[0] == "gravity_compensation_example_controller"  # teaching

    _v, specs = _plan(
        "evaluate",
        "close_drawer",
        policy_dir,
        rollouts="3",
        horizon="40",
        seed="2",
        camera_driver="pyrealsense2",
        camera_serial="123456",
        reward_node="false",
    )
    ev = _node(specs, "evaluate").parameters
    assert ev["rollouts"] == 3 and ev["horizon"] == 40 and ev["seed"] == 2 and ev["judge"] == "operator"
    assert ev["safety.step.max_translation_m"] == 0.01 and ev["task"] == "close_drawer"
    assert ev["controller"] == "cartesian_impedance_example_controller"
    cam = _node(specs, "camera")
    assert cam.parameters["serial"] == "123456" and cam.parameters["backend"] == "pyrealsense2"
    assert not any(isinstance(s, NodeSpec) and s.executable == "vip_reward_node" for s in specs)
    assert _node(specs, "evaluate").ends_launch  # the launch ends with the session

    _v, specs = _plan("task", "slide_cabinet", autostart="true", horizon="200", params_file="/site.yaml")
    pol = _node(specs, "rwr_policy_node")
    assert pol.parameters["autostart"] is True and pol.parameters["horizon"] == 200
    assert pol.parameters["gripper_command_topic"] == "/kitchen/gripper_command"
    assert pol.parameters["gripper_move_action"] == "" and pol.params_file == "/site.yaml"
    assert pol.parameters["safety.kinematics"] == "none"  # the kitchen's world frame
    assert _node(specs, "kitchen_sim").parameters["expert"] is False

    _v, specs = _plan("record", "microwave", keys_prefix="xterm -e")
    assert _node(specs, "kitchen_sim").parameters["expert"] is True
    assert _node(specs, "keys").prefix == "xterm -e"
    _v, specs = _plan("record", "microwave")
    assert any(isinstance(s, LogSpec) and "ros2 run demo_recorder keys" in s.message for s in specs)


def test_evaluate_takes_the_task_from_the_policy(policy_dir):
    values = _values("evaluate", None, policy=str(policy_dir(("push_bottle",))))
    specs = plan("evaluate", values, ROOT)
    assert _node(specs, "evaluate").parameters["task"] == "push_bottle"
    values = _values("evaluate", None, policy=str(policy_dir(("push_bottle", "fold_towel"))))
    with pytest.raises(
        ConfigError, match=r"knows tasks \['push_bottle', 'fold_towel'\]; choose one with task:="
    ):
        plan("evaluate", values, ROOT)
    with pytest.raises(CheckpointError, match="does not exist"):
        plan("evaluate", _values("evaluate", None, policy="/nowhere/policy"), ROOT)


@pytest.mark.parametrize(
    ("kind", "overrides", "error", "needle"),
    [
        ("record", {"num_episodes": "ten"}, ValueError, "ten"),
        ("record", {"camera_driver": "webcam"}, ConfigError, "camera_driver:='webcam'"),
        ("record", {"reward_node": "maybe"}, ConfigError, "reward_node:='maybe' must be true or false"),
        ("record", {"task_config": "/nowhere/x.yaml"}, TaskConfigError, "not found"),
        (
            "record",
            {"task_config": str(ROOT / "config" / "tasks" / "fold_towel.yaml")},
            TaskConfigError,
            "task_config is for task 'fold_towel'",
        ),
        ("task", {"horizon": "-1"}, ConfigError, "horizon must be >= 0 ticks"),
    ],
)
def test_bad_arguments_fail_before_any_node_starts(kind, overrides, error, needle):
    values = _values(
        kind, "push_bottle" if kind == "task" else None, task="push_bottle", policy="runs/p", **overrides
    )
    with pytest.raises(error, match=re.escape(needle)):
        plan(kind, values, ROOT, "push_bottle" if kind == "task" else None)


def test_node_schemas_document_every_parameter_and_declare_ros_types():
    """rclpy infers a parameter's type from its default: a float parameter with an int default
    would be declared INTEGER and then reject 0.5 from a YAML file."""
    schemas = (RewardNodeParams, RecorderNodeParams, PolicyNodeParams, EvaluateNodeParams, KitchenSimParams)
    for schema in schemas:
        for spec in param_specs(schema):
            where = f"{schema.__name__}.{spec.name}"
            assert spec.help, f"{where} has no description"
            if spec.type is float:
                assert type(spec.default) is float, f"{where}: float parameter with default {spec.default!r}"
            if spec.type is int:
                assert type(spec.default) is int, where
            if getattr(spec.type, "__origin__", None) is tuple and spec.default:
                assert len({type(v) for v in spec.default}) == 1, f"{where}: mixed types {spec.default}"


@pytest.mark.parametrize(
    "task", [t for t in TASKS if load_task_config(ROOT / "config" / "tasks" / f"{t}.yaml").kind == "sim"]
)
def test_sim_plans_fit_the_simulator(task):
    """The recorder samples the state at the kitchen's rate (a faster poll records a rate the
    episode never had: CadenceOutOfTolerance) and asks the kitchen for each demo's new scene
    before the start key (a reset on the key paused the first 0.1 s of every demo); the policy's
    targets are in the kitchen's frame."""
    _v, specs = _plan("record", task)
    kitchen = _node(specs, "kitchen_sim").parameters
    recorder = _node(specs, "demo_recorder").parameters
    assert recorder["state_rate_hz"] == kitchen["rate_hz"]
    assert recorder["reset_service"] == param_default(KitchenSimParams, "reset_service")
    for kind in ("task", "evaluate"):
        _v, specs = _plan(kind, task)
        policy = next(s for s in specs if isinstance(s, NodeSpec) and s.package == "rwr_policy_node")
        assert policy.parameters["hardware.base_frame"] == "world"


@pytest.mark.parametrize(("package", "executable"), [(p, e) for p in PACKAGES for e in console_scripts(p)])
def test_start_up_errors_carry_the_node_name(package, executable):
    """spin(..., name=...) labels errors raised before the node exists: it must be the node's name."""
    spec = NodeSpec(package, executable, executable)
    path = _node_module(spec)
    tree = ast.parse(path.read_text())
    spins = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "spin"]
    if not spins:
        return  # keys and train run without spin
    _module, func = console_scripts(package)[executable]
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == func)
    spin_call = next(
        c for c in ast.walk(main) if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "spin"
    )
    label = next(k.value.value for k in spin_call.keywords if k.arg == "name")
    node_name, _names = _node_class_facts(spec)
    assert label == node_name
