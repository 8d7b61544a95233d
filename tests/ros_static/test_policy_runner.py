"""The policy node's work without rclpy: start/stop of the 25 Hz loop over topic backends,
loading a checkpoint with its encoder, gripper goal choice, and the simulator evaluation backend."""

from __future__ import annotations

import multiprocessing
import pickle
import time
from pathlib import Path

import numpy as np
import pytest

from rwr_policy_node.params import EvaluateNodeParams, PolicyNodeParams, evaluate_params_from_task
from rwr_policy_node.policy_runner import (
    CallbackBackend,
    PolicyRunner,
    gripper_goal,
    load_policy_with_encoder,
)
from rwr_policy_node.train import main as train_main
from rwr_policy_node.train import strip_ros_args
from vipflow.config_schema import ConfigError, from_flat
from vipflow.encoders import save_encoder
from vipflow.hardware import MonotonicClock
from vipflow.hardware.fake import FakeCamera, FakeRobot
from vipflow.policy import (
    EncoderMismatchError,
    EncoderRef,
    Normalization,
    PolicyConfig,
    build_policy_net,
    save_policy,
)
from vipflow.runtime.limits import SafetyLimits, WatchdogLimits
from vipflow.task_config import resolve_task_config

ROOT = Path(__file__).resolve().parents[2]
# The start/stop plumbing is under test here, not the watchdog: on a CPU shared by many test
# runs the fake arm's 100 Hz state can stall for a few ticks, which the default limits punish.
PATIENT = SafetyLimits(
    watchdog=WatchdogLimits(max_observation_age_s=1.0, max_state_age_s=0.5, stale_ticks=100)
)


class StepPolicy:
    """Asks for 3 cm per tick along +x (three times the step limit)."""

    action_space = "ee_delta"
    proprio_keys = ("ee_pose", "gripper")

    def act(self, embedding, proprio, task=None):
        return np.array([0.03, 0, 0, 0, 0, 0, 0.05])


def test_start_stop_and_status_over_topics(ros_bus, pixel_encoder):
    clock = MonotonicClock()
    camera, arm = FakeCamera(clock, height=24, width=32), FakeRobot(clock, state_rate_hz=100.0)
    done = []
    with ros_bus(camera, arm) as bus:
        runner = PolicyRunner(
            bus.topic_camera,
            bus.topic_robot,
            pixel_encoder,
            StepPolicy(),
            PATIENT,
            torch_threads=None,
            on_done=lambda r, e: done.append((r, e)),
        )
        assert runner.status()["state"] == "idle" and runner.stop() == (False, "not running")
        ok, message = runner.start()
        assert ok and message == "started (until stop)"
        assert runner.start() == (False, "already running; call stop first")
        deadline = time.monotonic() + 15.0
        while len(arm.commands) < 15 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runner.status()["state"] == "running"
        assert runner.stop("~/stop service")[0]
        assert runner.wait(5.0)
        result, error = done[-1]
        assert error is None and result.stop_reason == "~/stop service" and result.safe_stopped
        n = len(arm.commands)
        assert n >= 15  # it kept commanding (about 25 a second) until stopped
        time.sleep(0.3)
        assert len(arm.commands) == n  # and none after the stop
        xs = np.array([t.ee_pose[0] for _, t in arm.commands])
        assert np.all(np.diff(xs) <= 0.01 + 1e-6)  # each command within the 1 cm step of the last
        ok, _ = runner.start(10)  # a bounded run: 10 ticks, then it ends by itself
        assert ok and runner.wait(5.0)
        assert done[-1][0].ticks == 10 and done[-1][0].completed
        status = runner.status()
        timing = status.pop("last_timing")  # the loop's own period and deadline misses (bench/ros reads it)
        assert timing["loop_period_ms"]["n"] == 9 and isinstance(timing["deadline_misses"], int)
        assert status == {
            "state": "idle",
            "runs": 2,
            "last_stop_reason": "completed",
            "last_ticks": 10,
            "last_holds": {},
            "last_error": None,
        }


def test_a_robot_that_never_reports_is_an_error_not_a_hang(pixel_encoder):
    from vipflow.ros.topic_hardware import TopicCamera, TopicHardwareConfig, TopicRobot

    robot = TopicRobot(lambda raw: None, config=TopicHardwareConfig(start_timeout_s=0.2))
    done = []
    runner = PolicyRunner(
        TopicCamera("/c"),
        robot,
        pixel_encoder,
        StepPolicy(),
        SafetyLimits(),
        on_done=lambda r, e: done.append((r, e)),
    )
    runner.start()
    assert runner.wait(5.0)
    result, error = done[0]
    assert result is None and "no robot state on ['joint_states', 'ee_pose', 'gripper']" in str(error)
    assert runner.status()["last_error"].startswith("no robot state")


def test_gripper_goal_grasps_when_closing_and_moves_when_opening():
    assert gripper_goal(0.01, 0.08, 0.005) == "grasp"
    assert gripper_goal(0.08, 0.01, 0.005) == "move"
    assert gripper_goal(0.078, 0.08, 0.005) == "move"  # inside the deadband: no force grasp


def test_callback_backend_resets_and_judges_through_callbacks(ros_bus):
    """The simulator publishes nothing while it resets: the rollout starts on the new scene's first
    frame and state, not on the old scene's last ones followed by a reset-long gap."""
    clock = MonotonicClock()
    arm = FakeRobot(clock)
    with ros_bus(FakeCamera(clock), arm) as bus:
        resets, success, reset_done = [], {"value": False}, []

        def reset_sim(index: int) -> None:  # like kitchen_sim's reset service
            bus.freeze_state.set()
            time.sleep(0.15)
            resets.append(index)
            reset_done.append(clock.now_ns())
            bus.freeze_state.clear()

        backend = CallbackBackend(
            bus.topic_camera, bus.topic_robot, reset_fn=reset_sim, success_fn=lambda: success["value"]
        )
        backend.reset(3, 10, operator=None)
        assert resets == [3] and arm.commands, "the arm holds its pose (a target at the current pose)"
        assert bus.topic_robot.state().stamp_ns >= reset_done[0], "the first tick would see the old scene"
        success["value"] = True
        assert backend.judge(3, operator=None) == (True, "simulator")


def _checkpoint(tmp_path, encoder, fingerprint=None):
    rng = np.random.default_rng(0)
    config = PolicyConfig(
        encoder=EncoderRef(encoder.name, encoder.arch, fingerprint or encoder.fingerprint, encoder.embed_dim),
        action_space="ee_delta",
        proprio_keys=("ee_pose", "gripper"),
        normalization=Normalization.fit(
            rng.normal(size=(20, encoder.embed_dim + 8)), rng.normal(size=(20, 7))
        ),
        hidden_sizes=(8,),
    )
    net = build_policy_net(config.input_dim, config.action_dim, config.hidden_sizes, config.head)
    return save_policy(tmp_path / "ckpt", net, config, None)


def test_load_policy_with_its_encoder_checks_the_fingerprint(tmp_path, small_vip):
    weights = save_encoder(small_vip, tmp_path / "enc.safetensors")
    checkpoint = str(_checkpoint(tmp_path / "a", small_vip))
    policy, encoder, recipe = load_policy_with_encoder(checkpoint, str(weights))
    assert encoder.fingerprint == small_vip.fingerprint and policy.config.encoder.arch == "convnet-small"
    assert pickle.loads(pickle.dumps(recipe))().fingerprint == encoder.fingerprint  # the process's recipe
    with pytest.raises(EncoderMismatchError, match="load the same weights"):
        load_policy_with_encoder(str(_checkpoint(tmp_path / "b", small_vip, "0" * 64)), str(weights))


def test_node_schemas_reject_nonsense():
    with pytest.raises(ConfigError, match="horizon must be >= 0"):
        from_flat(PolicyNodeParams, {"horizon": -5})
    with pytest.raises(ConfigError, match="rollouts must be >= 1"):
        from_flat(EvaluateNodeParams, {"rollouts": 0})
    with pytest.raises(ConfigError, match="judge: 'human' is not one of"):
        from_flat(EvaluateNodeParams, {"judge": "human"})
    with pytest.raises(ConfigError, match="safety"):
        from_flat(PolicyNodeParams, {"safety.step.max_translation_m": -0.01})


def test_task_configs_set_the_evaluation_and_its_safety_limits():
    params = from_flat(
        EvaluateNodeParams,
        evaluate_params_from_task(resolve_task_config(ROOT / "config" / "tasks" / "close_drawer.yaml")),
    )
    assert params.horizon == 100 and params.rollouts == 10 and params.goal.source == "dataset"
    assert params.safety == SafetyLimits()  # the defaults file, unchanged for this task
    assert params.command_topic == "/cartesian_impedance_example_controller/equilibrium_pose"


def test_train_entry_point_shares_the_core_parser(capsys):
    assert strip_ros_args(["--out", "r", "--ros-args", "-p", "a:=1", "--", "--steps", "5"]) == [
        "--out",
        "r",
        "--steps",
        "5",
    ]
    with pytest.raises(SystemExit) as info:
        train_main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ros2 run rwr_policy_node train")
    for option in ("--task-config", "--tau", "--method", "--resume", "--encoder-weights"):
        assert option in out
    assert train_main(["--resume", "/nowhere/run"]) == 2  # the core's named error, exit status 2
    assert "is not a run directory" in capsys.readouterr().err


def test_the_encoder_process_serves_every_run_until_closed(ros_bus, tmp_path, small_vip):
    """With a recipe the node's process never embeds a frame (its GIL stays with the executor and the
    control thread): one encoder process, started by open(), serves run after run; close() ends it.
    The policy still runs on ``torch_threads`` threads (an encoder thread used to set them)."""
    import torch

    weights = save_encoder(small_vip, tmp_path / "enc.safetensors")
    loaded, encoder, recipe = load_policy_with_encoder(str(_checkpoint(tmp_path, small_vip)), str(weights))
    policy = ThreadsSeen(loaded)
    clock = MonotonicClock()
    done = []
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    with ros_bus(FakeCamera(clock, height=24, width=32), FakeRobot(clock, state_rate_hz=100.0)) as bus:
        runner = PolicyRunner(bus.topic_camera, bus.topic_robot, encoder, policy, PATIENT, torch_threads=1,
                              encoder_process=recipe, on_done=lambda r, e: done.append((r, e)))
        runner.open()
        (worker,) = [p for p in multiprocessing.active_children() if p.name == "vipflow-encoder"]
        for _ in range(2):
            assert runner.start(10)[0] and runner.wait(30.0)
            result, error = done[-1]
            assert error is None and result.completed
            assert "no observation yet" not in result.holds
            assert len(result.timing.encoder_latency) > 0  # frames were embedded, by the worker
            assert worker.is_alive()
        assert [p for p in multiprocessing.active_children() if p.name == "vipflow-encoder"] == [worker]
        runner.close()
        assert not worker.is_alive()
    assert policy.threads == {1}
    torch.set_num_threads(before)


class ThreadsSeen:
    """A loaded policy that notes torch's intra-op thread count at every act."""

    def __init__(self, policy) -> None:
        self.policy, self.config, self.threads = policy, policy.config, set()

    def act(self, embedding, proprio, task=None):
        import torch

        self.threads.add(torch.get_num_threads())
        return self.policy.act(embedding, proprio, task)
