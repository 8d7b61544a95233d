"""The recorder node's composition without rclpy: topic-fed camera and read-only robot, keys and
prompts over String CDR, the real recording session and real bags."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from demo_recorder.params import INPUT_BACKLOG, RecorderNodeParams
from vipflow.episodes import list_episodes, read_episode
from vipflow.episodes import messages as m
from vipflow.evaluation.operator import ConsoleOperator, OperatorAbort
from vipflow.hardware import Frame, MonotonicClock
from vipflow.hardware.fake import FakeCamera, FakeRobot
from vipflow.record.keys import QueueKeys
from vipflow.record.session import RecorderSession
from vipflow.ros.remote_keys import OperatorLink, PromptWriter, operator_answer
from vipflow.ros.topic_hardware import (
    FRANKA_FINGER_JOINTS,
    TopicCamera,
    TopicRobot,
    image_cdr,
    joint_state_cdr,
    pose_cdr,
    string_cdr,
    string_of,
)


def test_prompt_writer_emits_whole_lines():
    lines = []
    w = PromptWriter(lines.append)
    w.write("ready for episode_0000: ")
    w.write("[space] start\nREC ")
    w.write("episode_0000\r\x1b[Kstatus\n\n")
    assert lines == ["ready for episode_0000: [space] start", "REC episode_0000", "\x1b[Kstatus"]
    assert not w.isatty()


def test_operator_answers_come_from_keys_and_stop_aborts():
    keys, shown, stop = QueueKeys(), [], threading.Event()
    keys.push("enter")
    assert operator_answer(keys, "reset, then Enter", shown.append, stop) == ""
    keys.push("s")
    assert operator_answer(keys, "success?", shown.append, stop) == "s"
    assert shown == ["reset, then Enter", "success?"]
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(EOFError):
        operator_answer(keys, "waiting", shown.append, stop)


def test_operator_link_drives_the_console_operator():
    sent, logged = [], []
    link = OperatorLink(sent.append, logged.append)
    operator = ConsoleOperator(ask=link.ask)
    link.on_key(string_cdr("space"))
    operator.prepare(0, 10)
    link.on_key(string_cdr("x"))  # not an answer: asked again
    link.on_key(string_cdr("f"))
    assert operator.judge(0) is False
    assert [string_of(raw) for raw in sent] == logged
    assert logged[0].startswith("[rollout 1/10] Reset the scene") and logged[1].startswith(
        "[rollout 1] Success?"
    )
    threading.Timer(0.2, link.close).start()
    with pytest.raises(OperatorAbort):
        operator.judge(1)

    def broken(raw):
        raise RuntimeError("context is shut down")

    OperatorLink(broken, logged.append).say("still logged")  # a failed publish never breaks a session
    assert logged[-1] == "still logged"


def _record(tmp_path, ros_bus, script):
    """Run a one-episode session over topics; ``script(link, prompts)`` plays the operator."""
    clock = MonotonicClock()
    camera, arm = FakeCamera(clock, height=24, width=32), FakeRobot(clock, state_rate_hz=100.0)
    params = RecorderNodeParams(
        task="slide", dataset=str(tmp_path / "data"), num_episodes=1, episode_time_s=30.0, reset_time_s=0.0
    )
    prompts = []
    link = OperatorLink(lambda raw: prompts.append(string_of(raw)), lambda line: None)
    with ros_bus(camera, arm, read_only=True) as bus:
        session = RecorderSession(
            params.session_config(), bus.topic_camera, bus.topic_robot, link.keys, PromptWriter(link.say)
        )
        result = {}
        thread = threading.Thread(target=lambda: result.update(r=session.run()), daemon=True)
        thread.start()
        script(link, prompts)
        thread.join(30.0)
    assert not thread.is_alive()
    return result["r"], prompts


def _wait_for(prompts, text, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(text in p for p in prompts):
            return
        time.sleep(0.02)
    raise AssertionError(f"no prompt containing {text!r}; got {prompts}")


def test_keys_over_topics_record_a_labelled_episode_from_topic_streams(tmp_path, ros_bus):
    def operator(link, prompts):
        _wait_for(prompts, "[space] start")
        link.on_key(string_cdr("space"))
        _wait_for(prompts, "REC episode_0000")
        time.sleep(1.2)
        link.on_key(string_cdr("s"))

    result, prompts = _record(tmp_path, ros_bus, operator)
    assert [e.label for e in result.episodes] == ["success"]
    assert any("session done: 1 episode(s) kept (1 success" in p for p in prompts)
    (summary,) = list_episodes(tmp_path / "data")
    ep = read_episode(summary.path)
    assert ep.meta.camera["source"] == "ros2" and ep.meta.robot["joint_states_topic"] == "/joint_states"
    grid = ep.on_grid(25.0)
    assert 25 <= len(grid.t_ns) <= 75 and grid.frames.shape[1:] == (24, 32, 3)
    assert np.isfinite(grid.joint_pos).all() and np.allclose(grid.gripper, 0.04)


def test_closing_the_node_mid_episode_keeps_it_unlabeled(tmp_path, ros_bus):
    def operator(link, prompts):
        _wait_for(prompts, "[space] start")
        link.on_key(string_cdr("space"))
        _wait_for(prompts, "REC episode_0000")
        time.sleep(0.5)
        link.close()  # what RecorderNode.close() does on Ctrl-C

    result, _prompts = _record(tmp_path, ros_bus, operator)
    assert [e.label for e in result.episodes] == ["unlabeled"]
    (summary,) = list_episodes(tmp_path / "data")
    assert read_episode(summary.path).meta.label == "unlabeled"  # nothing lost


def test_a_recorder_that_falls_behind_still_records_every_frame_and_state(tmp_path):
    """Messages arrive in bursts, as when the recorder's process was descheduled for 200 ms and
    DDS hands over its queue at once: the episode holds every instant the arm and camera sent."""
    sent: list[int] = []  # header stamps, in the order they were "published"
    camera, robot = TopicCamera("/camera", backlog=INPUT_BACKLOG), TopicRobot()
    stop = threading.Event()

    def deliver(stamp: int) -> None:
        pixels = np.full((8, 8, 3), len(sent) % 250, np.uint8)
        camera.on_image(image_cdr(Frame(stamp_ns=0, rgb=pixels), stamp))
        robot.on_joint_state(joint_state_cdr(m.DEFAULT_JOINT_NAMES, np.full(7, len(sent) * 1e-3), stamp))
        robot.on_pose(pose_cdr(np.array([0.4, 0, 0.4, 1.0, 0, 0, 0]), stamp, "fr3_link0"))
        robot.on_gripper(joint_state_cdr(FRANKA_FINGER_JOINTS, [0.02, 0.02], stamp))

    def publish() -> None:
        held: list[int] = []
        tick = 0
        while not stop.is_set():
            stamp = time.time_ns()
            sent.append(stamp)
            held.append(stamp)
            if tick % 10 < 5 or tick % 10 == 9:  # five ticks in ten reach us late, all at once
                for s in held:
                    deliver(s)
                held.clear()
            tick += 1
            time.sleep(0.04)

    feeder = threading.Thread(target=publish, daemon=True)
    feeder.start()
    camera.start()
    robot.start()
    params = RecorderNodeParams(task="slide", dataset=str(tmp_path / "data"), num_episodes=1,
                                episode_time_s=30.0, reset_time_s=0.0, rate_hz=25.0, state_rate_hz=25.0)
    prompts: list[str] = []
    link = OperatorLink(lambda raw: prompts.append(string_of(raw)), lambda line: None)
    session = RecorderSession(params.session_config(), camera, robot, link.keys, PromptWriter(link.say))
    thread = threading.Thread(target=session.run, daemon=True)
    thread.start()
    _wait_for(prompts, "[space] start")
    link.on_key(string_cdr("space"))
    _wait_for(prompts, "REC episode_0000")
    time.sleep(2.0)
    link.on_key(string_cdr("s"))
    thread.join(30.0)
    stop.set()
    assert not thread.is_alive()
    (summary,) = list_episodes(tmp_path / "data")
    stamps = read_episode(summary.path).stamps()
    for stream in ("camera", "joint_states"):
        got = stamps[stream]
        expected = [s for s in sent if got[0] - 10_000_000 <= s <= got[-1] + 10_000_000]
        assert len(got) >= 40 and len(got) == len(expected), (stream, len(got), len(expected))
        assert np.abs(got - np.asarray(expected)).max() < 10_000_000  # the same instants, none missing
