"""The recorder node's composition without rclpy: topic-fed camera and read-only robot, keys and
prompts over String CDR, the real recording session and real bags."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from demo_recorder.params import RecorderNodeParams
from vipflow.episodes import list_episodes, read_episode
from vipflow.evaluation.operator import ConsoleOperator, OperatorAbort
from vipflow.hardware import MonotonicClock
from vipflow.hardware.fake import FakeCamera, FakeRobot
from vipflow.record.keys import QueueKeys
from vipflow.record.session import RecorderSession
from vipflow.ros.remote_keys import OperatorLink, PromptWriter, operator_answer
from vipflow.ros.topic_hardware import string_cdr, string_of


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
