"""The schema mechanism behind task configs and node parameters: strict keys, types, dotted names."""

from __future__ import annotations

import array
from dataclasses import dataclass, field

import pytest

from vipflow.config_schema import (
    ConfigError,
    coerce,
    deep_merge,
    default_of,
    from_flat,
    from_mapping,
    option,
    option_from,
    param_specs,
    to_flat,
    unflatten,
)
from vipflow.encoders import inference as inf
from vipflow.runtime.limits import SafetyLimits
from vipflow.task_config import EncoderSpec


@dataclass(frozen=True)
class Inner:
    width: float = option(0.5, "a width")
    names: tuple[str, ...] = option(("a", "b"), "some names")
    xyz: tuple[float, float, float] = option((0.0, 0.0, 1.0), "a point")


@dataclass(frozen=True)
class Outer:
    mode: str = option("fast", "the mode", choices=("fast", "slow"))
    count: int = option(3, "how many")
    enabled: bool = option(False, "on/off")
    inner: Inner = field(default_factory=Inner)


def test_defaults_and_nested_override():
    cfg = from_mapping(Outer, {"count": 5, "inner": {"width": 2}})
    assert cfg == Outer(count=5, inner=Inner(width=2.0))
    assert isinstance(cfg.inner.width, float)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"cont": 1}, "unknown key(s) ['cont']; allowed: ['mode', 'count', 'enabled', 'inner']"),
        ({"count": "3"}, "count: expected an integer, got '3'"),
        ({"count": True}, "count: expected an integer"),
        ({"enabled": "yes"}, "enabled: expected true or false"),
        ({"mode": "medium"}, "mode: 'medium' is not one of ['fast', 'slow']"),
        ({"inner": {"names": "a"}}, "inner.names: expected a list of str"),
        ({"inner": {"xyz": [1, 2]}}, "inner.xyz: expected 3 values, got 2"),
        ({"inner": {"widht": 1.0}}, "inner: unknown key(s) ['widht']"),
        ({"inner": 3}, "inner: expected a mapping"),
    ],
)
def test_errors_name_the_key_and_the_expectation(data, needle):
    with pytest.raises(ConfigError) as info:
        from_mapping(Outer, data)
    assert needle in str(info.value)


def test_text_values_from_launch_arguments():
    cfg = from_flat(
        Outer,
        {"count": "10", "enabled": "true", "inner.names": "x, y", "inner.xyz": "0.1,0.2,0.3"},
        from_text=True,
    )
    assert cfg.count == 10 and cfg.enabled is True
    assert cfg.inner.names == ("x", "y") and cfg.inner.xyz == (0.1, 0.2, 0.3)
    assert coerce("[1, 2]", tuple[int, ...], "k", from_text=True) == (1, 2)
    assert coerce("", tuple[str, ...], "k", from_text=True) == ()
    with pytest.raises(ConfigError, match="k: expected an integer, got 'ten'"):
        coerce("ten", int, "k", from_text=True)


def test_ros_array_parameters_are_accepted():
    # rclpy returns numeric array parameters as array.array
    assert coerce(array.array("d", [1.0, 2.0, 3.0]), tuple[float, float, float], "k") == (1.0, 2.0, 3.0)


def test_flat_round_trip_and_specs():
    cfg = Outer(count=7, inner=Inner(names=("q",)))
    flat = to_flat(cfg)
    assert flat["inner.names"] == ["q"] and flat["count"] == 7
    assert from_flat(Outer, flat) == cfg
    specs = {s.name: s for s in param_specs(Outer)}
    assert list(specs) == ["mode", "count", "enabled", "inner.width", "inner.names", "inner.xyz"]
    assert specs["mode"].choices == ("fast", "slow") and specs["inner.width"].help == "a width"


def test_borrowed_schema_without_help_gets_a_pointer():
    specs = {s.name: s for s in param_specs(SafetyLimits)}
    assert "step.max_translation_m" in specs
    assert specs["step.max_translation_m"].help.endswith("StepLimits.max_translation_m")
    limits = from_flat(SafetyLimits, {"workspace.min": [0.3, -0.2, 0.1]})
    assert limits.workspace.min == (0.3, -0.2, 0.1)
    with pytest.raises(ConfigError, match=r"workspace.min"):
        from_flat(SafetyLimits, {"workspace.min": [0.9, -0.2, 0.1]})  # min above max


def test_unflatten_and_merge():
    assert unflatten({"a.b": 1, "a.c": 2, "d": 3}) == {"a": {"b": 1, "c": 2}, "d": 3}
    with pytest.raises(ConfigError, match="clashes"):
        unflatten({"a": 1, "a.b": 2})
    merged = deep_merge({"s": {"x": 1, "y": 2}, "k": 1}, {"s": {"y": 5}})
    assert merged == {"s": {"x": 1, "y": 5}, "k": 1}


def test_nested_defaults_come_from_the_default_factory():
    @dataclass(frozen=True)
    class Custom:
        inner: Inner = field(default_factory=lambda: Inner(width=9.0))

    specs = {s.name: s.default for s in param_specs(Custom)}
    assert specs["inner.width"] == 9.0 and specs["inner.names"] == ("a", "b")
    assert from_flat(Custom, {k: v for k, v in specs.items()}) == Custom()


def test_a_field_declared_by_another_schema_takes_its_default_help_and_checks():
    @dataclass(frozen=True)
    class Borrower:
        mode: str = option_from(Outer, "mode")
        names: tuple[str, ...] = option_from(Inner, "names", "my names")

    specs = {s.name: s for s in param_specs(Borrower)}
    mode = specs["mode"]
    assert (mode.default, mode.help, mode.choices) == ("fast", "the mode", ("fast", "slow"))
    assert (specs["names"].default, specs["names"].help) == (("a", "b"), "my names")
    assert default_of(Outer, "inner") == Inner()
    with pytest.raises(ConfigError, match="mode"):
        from_flat(Borrower, {"mode": "medium"})


def test_node_topic_parameters_default_to_the_task_topics():
    """Each topic is declared once (TopicSpec); the nodes' parameters and the topic hardware follow it."""
    from demo_recorder.params import CameraNodeParams
    from rwr_policy_node.params import PolicyNodeParams
    from vip_reward_node.params import RewardNodeParams
    from vipflow.ros.topic_hardware import TopicHardwareConfig
    from vipflow.task_config import RobotSpec, TopicSpec

    t, hw = TopicSpec(), TopicHardwareConfig()
    assert (hw.image_topic, hw.joint_states_topic, hw.ee_pose_topic, hw.gripper_topic) == (
        t.image,
        t.joint_states,
        t.ee_pose,
        t.gripper,
    )
    reward = RewardNodeParams()
    assert (reward.image_topic, reward.embedding_topic) == (t.image, t.embedding)
    assert reward.reward_topic == t.reward
    assert reward.reward_stamped_topic == t.reward + "_stamped"
    assert CameraNodeParams().image_topic == t.image
    policy = PolicyNodeParams()
    assert (policy.command_topic, policy.controller) == (t.command, RobotSpec().controller)


def test_recorder_parameters_default_to_the_session_and_keep_its_ranges():
    from demo_recorder.params import RecorderNodeParams
    from vipflow.record.session import SessionConfig

    session = RecorderNodeParams().session_config()
    assert session == SessionConfig(dataset=session.dataset, task="", source="ros2")
    with pytest.raises(ConfigError, match="rate_hz"):
        from_flat(RecorderNodeParams, {"rate_hz": 5000.0})  # the session's range: [1, 1000] Hz


def test_evaluate_parameters_default_to_the_evaluation_session():
    from rwr_policy_node.params import EvaluateNodeParams
    from vipflow.evaluation.session import EvaluationConfig

    node = EvaluateNodeParams()
    for name in ("horizon", "rollouts", "seed", "image_format"):
        assert getattr(node, name) == default_of(EvaluationConfig, name), name


def test_task_yaml_and_node_parameters_take_the_same_declaration():
    from rwr_policy_node.params import PolicyNodeParams
    from vip_reward_node.params import RewardNodeParams

    assert (EncoderSpec().runtime, EncoderSpec().precision) == (inf.AUTO, inf.AUTO)
    with pytest.raises(ConfigError, match=r"encoder\.precision: 'int4' is not one of"):
        from_mapping(EncoderSpec, {"precision": "int4"}, "encoder")
    for schema in (RewardNodeParams, PolicyNodeParams):
        specs = {s.name: s for s in param_specs(schema)}
        assert specs["encoder_runtime"].choices == (*inf.RUNTIMES, inf.AUTO)
        assert specs["encoder_precision"].choices == (*inf.PRECISIONS, inf.AUTO)
