"""One factory, one vocabulary: drivers opened by name from small specs, by the CLI and evaluation."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest

from tests.episodes.episode_synth import write_synthetic
from vipflow.cli import record as record_cli
from vipflow.cli.main import build_parser, main
from vipflow.config_schema import from_mapping, param_specs
from vipflow.encoders import load_encoder, save_encoder
from vipflow.evaluation import run as evaluate_run
from vipflow.evaluation.ledger import Ledger
from vipflow.evaluation.session import evaluation_from_task
from vipflow.hardware import Camera, HardwareError, Robot
from vipflow.hardware.factory import (
    DRIVERS,
    FakeSpec,
    FrankySpec,
    RealSenseSpec,
    ReplaySpec,
    driver_names,
    make_camera,
    make_robot,
    make_spec,
    open_hardware,
)
from vipflow.hardware.fake import FakeCamera, FakeRobot
from vipflow.hardware.franky import FrankyRobot
from vipflow.hardware.realsense import RealSenseCamera
from vipflow.hardware.replay import ReplayCamera, ReplayRobot
from vipflow.policy.untrained import untrained_policy
from vipflow.task_config import TaskConfig


def test_one_vocabulary_for_the_cli_and_the_factory():
    assert driver_names() == ("fake", "replay", "realsense", "franky", "sim")
    assert driver_names(camera=True) == ("fake", "replay", "realsense", "sim")
    assert driver_names(robot=True, commanded=True) == ("fake", "franky", "sim")
    assert set(record_cli.SOURCES) <= set(driver_names(camera=True))
    assert set(record_cli.ROBOTS) <= set(driver_names(robot=True))
    assert set(evaluate_run.BACKENDS) == set(driver_names(robot=True, commanded=True))
    assert all(DRIVERS[cam].camera for cam in evaluate_run.BACKEND_CAMERAS.values())
    assert all(DRIVERS[name].spec.driver == name for name in DRIVERS)


def test_specs_are_config_schemas_that_yaml_and_ros_parameters_can_fill():
    names = [p.name for p in param_specs(RealSenseSpec)]
    assert names == ["width", "height", "fps", "serial"] and all(p.help for p in param_specs(FrankySpec))
    assert from_mapping(FrankySpec, {"robot_ip": "10.0.0.2"}) == FrankySpec(robot_ip="10.0.0.2")
    spec = make_spec("realsense", width=320, robot_ip="ignored", serial=None, path="ignored")
    assert spec == RealSenseSpec(width=320)  # fields it has; None keeps the default
    with pytest.raises(HardwareError, match=r"unknown hardware driver 'kinect'; choose one of \["):
        make_spec("kinect")


def test_drivers_open_their_devices_without_touching_hardware():
    camera = make_camera(RealSenseSpec(width=320, height=240, fps=15, serial="123"))
    assert isinstance(camera, RealSenseCamera) and (camera.width, camera.serial) == (320, "123")
    robot = make_robot(FrankySpec(robot_ip="10.0.0.2", relative_dynamics_factor=0.05))
    assert isinstance(robot, FrankyRobot) and robot.relative_dynamics_factor == 0.05
    with pytest.raises(HardwareError, match="driver 'franky' has no camera; camera drivers: fake, replay"):
        make_camera(FrankySpec())
    with pytest.raises(HardwareError, match="driver 'realsense' has no robot"):
        make_robot(RealSenseSpec())


def test_one_spec_for_both_shares_the_clock_or_the_timeline(tmp_path):
    hw = open_hardware(FakeSpec(width=32, height=24), FakeSpec(width=32, height=24))
    assert isinstance(hw.camera, FakeCamera) and isinstance(hw.robot, FakeRobot)
    assert hw.camera.clock is hw.robot.clock is hw.clock and hw.camera.width == 32
    episode = write_synthetic(tmp_path / "ep", seconds=0.3)
    spec = ReplaySpec(path=str(episode))
    hw = open_hardware(spec, spec)
    assert isinstance(hw.camera, ReplayCamera) and isinstance(hw.robot, ReplayRobot)
    assert hw.camera.timeline is hw.robot.timeline
    assert isinstance(hw.camera, Camera) and isinstance(hw.robot, Robot)
    with pytest.raises(HardwareError, match="replay needs an episode directory or a video file"):
        make_camera(ReplaySpec(path=str(tmp_path / "missing")))


def test_record_cli_opens_its_sources_through_the_factory(tmp_path):
    parser = build_parser()

    def sources(*argv):
        args = ["record", "--dataset", str(tmp_path), "--task", "t", *argv]
        return record_cli.open_sources(parser.parse_args(args))

    camera, robot = sources("--source", "fake", "--width", "64", "--height", "48", "--fps", "20")
    assert isinstance(camera, FakeCamera) and isinstance(robot, FakeRobot) and camera.clock is robot.clock
    assert (camera.width, camera.height, camera.period_ns) == (64, 48, 50_000_000)
    episode = write_synthetic(tmp_path / "ep", seconds=0.3)
    camera, robot = sources("--source", "replay", "--replay", str(episode))
    assert isinstance(robot, ReplayRobot) and camera.timeline is robot.timeline
    camera, robot = sources("--source", "realsense", "--serial", "42", "--robot-ip", "10.0.0.9")
    assert camera.serial == "42" and isinstance(robot, FrankyRobot) and robot.robot_ip == "10.0.0.9"
    with pytest.raises(HardwareError, match="--source replay needs --replay PATH"):
        sources("--source", "replay")
    with pytest.raises(HardwareError, match="--robot replay needs --source replay"):
        sources("--source", "fake", "--robot", "replay")


def test_evaluation_from_task_builds_the_results_layout_once(tmp_path):
    policy = dataclasses.make_dataclass("P", [("tasks", tuple)])(("push_bottle",))
    encoder = dataclasses.make_dataclass("E", ["name", "arch", "fingerprint"])("vip", "resnet50", "ab" * 32)
    (tmp_path / "runs" / "drawer").mkdir(parents=True)
    config, info = evaluation_from_task("push_bottle", policy, tmp_path / "runs" / "drawer", encoder, seed=3)
    assert str(config.output_dir) == "results/push_bottle/drawer/seed3" and config.policy_name == "drawer"
    assert config.policy_task == "push_bottle" and config.policy_path == str(tmp_path / "runs" / "drawer")
    assert (config.rollouts, config.horizon, config.rate_hz) == (10, 100, 25.0)
    assert info == {"name": "vip", "arch": "resnet50", "fingerprint": "ab" * 32, "weights": "default"}
    task = TaskConfig(task="close_drawer", description="close it")
    config, info = evaluation_from_task("close_drawer", policy, "p", encoder, task_config=task,
                                        name="VIP-RWR", horizon=7, encoder_weights="w.pt", output_dir="~/out")
    assert (config.rollouts, config.horizon, config.goal_text) == (task.evaluate.rollouts, 7, "close it")
    assert config.policy_task is None and info["weights"] == "w.pt" and "~" not in str(config.output_dir)


def test_evaluate_cli_dry_run_on_the_fake_backend(tmp_path, monkeypatch, capsys):
    with pytest.warns(UserWarning, match="random weights"):
        encoder = load_encoder("vip", arch="convnet-small", random_init=True)
    weights = save_encoder(encoder, tmp_path / "enc.safetensors")
    untrained_policy(encoder, tmp_path / "policy")
    monkeypatch.setattr("sys.stdin", io.StringIO("\ns\n"))  # the operator: Enter to start, 's' = success
    out = tmp_path / "eval"
    code = main(["evaluate", "run", "--policy", str(tmp_path / "policy"), "--backend", "fake", "--task", "t",
                 "--rollouts", "1", "--horizon", "5", "--no-rewards", "--perception", "thread",
                 "--encoder-weights", str(weights), "--output", str(out), "--rt-priority", "0"])
    assert code == 0, capsys.readouterr().err
    ledger = Ledger.load(out)
    assert ledger.backend["name"] == "fake" and ledger.backend["robot"] == "FakeRobot"
    assert [r.success for r in ledger.rollouts] == [True] and ledger.config["limits_profile"] == "franka"
    assert np.isfinite(ledger.timing["loop_period_ms"]["p50"])
