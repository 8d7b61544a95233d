"""Fault injection on the fake hardware: each fault gets its specified safe behaviour.

Deterministic runs use virtual time (``ManualClock``) with inline perception; the threaded
(hardware) mode is exercised on the real clock for the faults that involve the camera thread.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

from tests.runtime.conftest import ScriptedPolicy, TinyEncoder, started_rig
from vipflow.hardware import MonotonicClock
from vipflow.hardware.fake import FakeRobot
from vipflow.hardware.franka import HOME_Q, forward_kinematics, inverse_kinematics
from vipflow.runtime.limits import SafetyLimits
from vipflow.runtime.loop import ControlLoop, stop_on_sigint
from vipflow.runtime.safety import SafetyLayer

STEP = [0.002, 0.0, 0.0, 0.0, 0.0, 0.0, 0.04]
PERIOD_NS = 40_000_000


def make_loop(clock, camera, robot, policy, *, perception="inline", faults=None, records=None):
    faults = faults or {}

    def on_tick(rec):
        if records is not None:
            records.append(rec)
        if rec.index in faults:
            faults[rec.index]()

    safety = SafetyLayer(SafetyLimits(), action_space=policy.action_space)
    return ControlLoop(
        camera, robot, TinyEncoder(), policy, safety, clock, perception=perception, on_tick=on_tick,
        torch_threads=None,
    )


def assert_every_command_was_safe(records, layer=None):
    layer = layer or SafetyLayer()
    for rec in records:
        if rec.target is not None:
            assert layer.violations(rec.state, rec.target) == []


def test_clean_run_sends_one_bounded_command_per_tick(rig):
    clock, camera, robot = rig
    records = []
    policy = ScriptedPolicy([STEP])
    result = make_loop(clock, camera, robot, policy, records=records).run(30)
    assert result.completed and result.ticks == 30 and len(robot.commands) == 30
    assert result.timing.deadline_misses == 0
    assert np.allclose(result.timing.periods, 40.0)
    # the policy saw real embeddings of the frames and the proprioception it asked for
    emb, proprio = policy.calls[-1]
    assert emb.shape == (12,) and proprio.shape == (8,)
    np.testing.assert_allclose(proprio[:7], records[-1].state.ee_pose, rtol=1e-6)
    assert_every_command_was_safe(records)


def test_stale_camera_holds_then_trips_the_watchdog(rig):
    clock, camera, robot = rig
    records = []
    stalled_at = []

    def stall():
        camera.stall()
        stalled_at.append(clock.now_ns())

    loop = make_loop(clock, camera, robot, ScriptedPolicy([STEP]), faults={10: stall}, records=records)
    result = loop.run(100)
    assert result.stop_reason.startswith("watchdog: stale observation")
    assert result.safe_stopped and robot.holds
    held = [r for r in records if r.hold_reason]
    assert held and all(r.target is None for r in held)
    assert all(r.hold_reason.startswith("stale observation") for r in held)
    max_age_ns = SafetyLimits().watchdog.max_observation_age_s * 1e9
    last_cmd = max(t for t, _ in robot.commands)
    assert last_cmd <= stalled_at[0] + max_age_ns + PERIOD_NS  # nothing sent on a frame older than the bound
    assert len(held) == SafetyLimits().watchdog.stale_ticks - 1  # the Nth stale tick stops the loop
    assert result.ticks < 30


def test_frozen_robot_state_holds_then_trips_the_watchdog(rig):
    clock, camera, robot = rig
    records = []
    loop = make_loop(
        clock, camera, robot, ScriptedPolicy([STEP]), faults={10: robot.freeze_state}, records=records
    )
    result = loop.run(100)
    assert result.stop_reason.startswith("watchdog: stale robot state")
    assert robot.holds and result.safe_stopped
    frozen_stamp = records[10].state.stamp_ns
    for rec in records:
        if rec.target is not None:  # every command was computed from a fresh state
            assert rec.woke_ns - rec.state.stamp_ns <= 0.1e9
    assert any(r.state.stamp_ns == frozen_stamp and r.hold_reason for r in records[11:])


def test_nan_action_holds_and_never_reaches_the_robot(rig):
    clock, camera, robot = rig
    nan = [np.nan] * 7
    policy = ScriptedPolicy([STEP] * 5 + [nan, nan, [0, 0, np.inf, 0, 0, 0, 0.04]] + [STEP])
    records = []
    result = make_loop(clock, camera, robot, policy, records=records).run(20)
    assert result.completed  # a bad action is a hold, not a crash
    assert [r.index for r in records if r.hold_reason] == [5, 6, 7]
    assert len(robot.holds) == 1  # one explicit hold when holding starts
    assert len(robot.commands) == 17
    assert all(np.all(np.isfinite(t.ee_pose)) for _, t in robot.commands)
    assert result.holds == {"non-finite action (NaN/inf) from the policy": 3}


def test_out_of_box_targets_stop_at_the_wall(rig):
    clock, camera, _ = rig
    start = np.r_[0.5, 0.0, 0.2, forward_kinematics(HOME_Q)[3:]]  # above the table, elbow free
    robot = FakeRobot(clock, q0=inverse_kinematics(start, HOME_Q))
    robot.start()
    down = [0.0, 0.0, -0.05, 0.0, 0.0, 0.0, 0.04]  # far beyond the step, straight into the table
    records = []
    result = make_loop(clock, camera, robot, ScriptedPolicy([down]), records=records).run(60)
    assert result.completed and robot.in_error is None  # no reflex: only bounded targets arrived
    floor = SafetyLimits().workspace.min[2]
    zs = [t.ee_pose[2] for _, t in robot.commands]
    assert min(zs) == pytest.approx(floor)
    assert np.all(np.diff(zs) >= -0.01 - 1e-9)  # never more than one step per tick
    assert_every_command_was_safe(records)


def test_robot_error_stops_safely_and_reports(rig):
    clock, camera, robot = rig
    loop = make_loop(clock, camera, robot, ScriptedPolicy([STEP]), faults={10: robot.inject_error})
    result = loop.run(100)
    assert result.stop_reason.startswith("robot error") and "cartesian_reflex" in result.stop_reason
    assert result.ticks == 11 and len(robot.commands) == 11
    assert robot.holds  # safe stop attempted after the reflex


def test_robot_disconnect_is_a_safe_stop_not_a_crash(rig):
    clock, camera, robot = rig
    result = make_loop(clock, camera, robot, ScriptedPolicy([STEP]), faults={4: robot.disconnect}).run(50)
    assert result.stop_reason.startswith("robot error") and "connection" in result.stop_reason
    assert not result.safe_stopped  # unreachable robot: its own communication reflex holds it


def test_policy_exception_safe_stops_then_surfaces(rig):
    clock, camera, robot = rig

    class Broken(ScriptedPolicy):
        def act(self, embedding, proprio, task=None):
            if len(self.calls) == 6:
                raise RuntimeError("bad checkpoint")
            return super().act(embedding, proprio, task)

    loop = make_loop(clock, camera, robot, Broken([STEP]))
    with pytest.raises(RuntimeError, match="bad checkpoint"):
        loop.run(50)
    assert robot.holds and len(robot.commands) == 6


# ---- threaded perception on the real clock ---------------------------------------------------------
@pytest.fixture
def live():
    return started_rig(MonotonicClock())


class SlowEncoder(TinyEncoder):
    def embed_images(self, frames, batch_size=32, progress=False):
        time.sleep(0.06)  # slower than one 40 ms tick
        return super().embed_images(frames)


def test_threaded_perception_keeps_commanding_while_encoder_is_slow(live):
    clock, camera, robot = live
    policy = ScriptedPolicy([STEP])
    loop = ControlLoop(
        camera, robot, SlowEncoder(), policy, SafetyLayer(), clock, perception="thread", torch_threads=None
    )
    result = loop.run(20)
    assert result.completed and len(robot.commands) == 20  # no tick waited for the encoder
    assert result.timing.encoder_latency and min(result.timing.encoder_latency) >= 60
    assert min(result.timing.frame_age) >= 60  # the embedding used is older than one tick


def test_threaded_camera_disconnect_trips_the_watchdog_with_the_camera_error(live):
    clock, camera, robot = live
    faults = {5: camera.disconnect}
    loop = make_loop(clock, camera, robot, ScriptedPolicy([STEP]), perception="thread", faults=faults)
    result = loop.run(100)
    assert result.stop_reason.startswith("watchdog: stale observation")
    assert "camera error" in result.stop_reason and "disconnected" in result.stop_reason
    assert robot.holds and result.ticks < 100


def test_sigint_stops_safely(live):
    clock, camera, robot = live
    loop = make_loop(clock, camera, robot, ScriptedPolicy([STEP]), perception="thread")
    threading.Timer(0.4, os.kill, (os.getpid(), signal.SIGINT)).start()
    with stop_on_sigint(loop):
        result = loop.run(200)
    assert result.stop_reason == "SIGINT (Ctrl-C)" and result.safe_stopped
    assert robot.holds and 0 < result.ticks < 200
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
