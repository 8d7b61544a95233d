"""Evaluation sessions on the fake hardware: episodes with actions and rewards, the ledger."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.runtime.conftest import ScriptedPolicy, TinyEncoder
from vipflow.episodes import read_episode
from vipflow.evaluation.backend import HardwareBackend
from vipflow.evaluation.ledger import Ledger, LedgerError, wilson_interval
from vipflow.evaluation.operator import ConsoleOperator, OperatorAbort
from vipflow.evaluation.session import EvaluationConfig, EvaluationSession, Goal
from vipflow.hardware.fake import FakeCamera, FakeRobot, ManualClock

STEP = [0.002, 0.0, -0.001, 0.0, 0.0, 0.0, 0.05]


class ScriptedOperator:
    def __init__(self, verdicts):
        self.verdicts = list(verdicts)
        self.prepared: list[int] = []

    def prepare(self, index, total):
        self.prepared.append(index)

    def judge(self, index):
        return self.verdicts[index]


def fake_backend(**robot_kw):
    clock = ManualClock()
    return HardwareBackend(
        FakeCamera(clock, height=32, width=32), FakeRobot(clock, **robot_kw), clock, name="fake",
        perception="inline",
    )


def test_wilson_interval_matches_known_values():
    lo, hi = wilson_interval(9, 10)
    assert (round(lo, 3), round(hi, 3)) == (0.596, 0.982)
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert wilson_interval(10, 10) == (pytest.approx(0.7225, abs=1e-4), 1.0)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_session_records_rollouts_and_writes_a_ledger(tmp_path):
    backend = fake_backend()
    goal = Goal(TinyEncoder().embed_images(np.zeros((1, 32, 32, 3), np.uint8))[0], "l2", "black image")
    operator = ScriptedOperator([True, False, True])
    cfg = EvaluationConfig(tmp_path / "eval", "VIP-RWR", "push_bottle", rollouts=3, horizon=12, seed=3)
    ledger = EvaluationSession(backend, TinyEncoder(), ScriptedPolicy([STEP]), cfg, operator, goal=goal).run()

    assert operator.prepared == [0, 1, 2]
    assert [r.success for r in ledger.rollouts] == [True, False, True]
    assert ledger.summary()["successes"] == 2 and ledger.summary()["n"] == 3
    assert ledger.summary()["wilson95"] == [round(v, 4) for v in wilson_interval(2, 3)]
    assert ledger.timing["ticks"] == 36 and ledger.timing["deadline_misses"] == 0
    assert ledger.timing["loop_period_ms"]["p99"] == pytest.approx(40.0)
    assert ledger.safety["passed"] == 36

    on_disk = json.loads((tmp_path / "eval" / "ledger.json").read_text())
    assert on_disk["summary"]["success_rate"] == pytest.approx(2 / 3)
    assert Ledger.load(tmp_path / "eval").rollouts == ledger.rollouts

    ep = read_episode(tmp_path / "eval" / ledger.rollouts[1].episode)
    assert ep.meta.label == "failure" and ep.meta.source == "rollout" and ep.meta.action_space == "ee_delta"
    grid = ep.on_grid(25.0)
    assert grid.actions is not None and grid.actions.shape[1] == 7
    # the recorded action is what was commanded: the policy step, gripper as asked
    np.testing.assert_allclose(grid.actions[2], STEP, atol=1e-6)
    rollout = ledger.rollouts[0]
    assert rollout.steps == 12 and rollout.return_ is not None and rollout.final_value is not None


def test_session_records_rewards_that_telescope(tmp_path):
    backend = fake_backend()
    goal = Goal(np.full(12, 0.5, np.float32), "l2", "grey")
    cfg = EvaluationConfig(tmp_path / "eval", "BC", "t", rollouts=1, horizon=10)
    ledger = EvaluationSession(backend, TinyEncoder(), ScriptedPolicy([STEP]), cfg, ScriptedOperator([True]),
                               goal=goal).run()
    rollout = ledger.rollouts[0]
    ep = read_episode(tmp_path / "eval" / rollout.episode)
    recorded = np.array([ep.decode(t, raw).data for t, _, raw in ep.messages(["/reward"])])
    value, reward = recorded[:, 0], recorded[:, 1]
    assert len(value) == 10  # one [value, reward] per tick
    frames = np.stack([f for _, f in ep.frames()])
    frame_values = -np.linalg.norm(TinyEncoder().embed_images(frames) - 0.5, axis=1)
    assert all(np.min(np.abs(frame_values - v)) < 1e-5 for v in value)  # each is a recorded frame's value
    np.testing.assert_allclose(reward[1:], np.diff(value), atol=1e-6)
    assert reward[0] == 0.0
    assert rollout.return_ == pytest.approx(value[-1] - value[0], abs=1e-5)
    assert rollout.final_value == pytest.approx(value[-1], abs=1e-6)


def test_robot_error_rollout_is_a_failure_and_the_session_continues(tmp_path):
    backend = fake_backend()
    backend.robot.inject_error("cartesian_reflex")
    cfg = EvaluationConfig(tmp_path / "eval", "BC", "t", rollouts=2, horizon=8)
    ledger = EvaluationSession(backend, TinyEncoder(), ScriptedPolicy([STEP]), cfg,
                               ScriptedOperator([False, True])).run()
    first, second = ledger.rollouts
    assert first.stop_reason.startswith("robot error") and first.steps == 0
    assert backend.robot.recoveries == 2  # reset recovered the reflex before rollout 2
    assert second.stop_reason == "completed" and second.success


def test_operator_quit_ends_the_session_with_what_was_done(tmp_path):
    answers = iter(["", "s", "q"])
    operator = ConsoleOperator(ask=lambda prompt: next(answers))
    cfg = EvaluationConfig(tmp_path / "eval", "BC", "t", rollouts=5, horizon=5)
    ledger = EvaluationSession(fake_backend(), TinyEncoder(), ScriptedPolicy([STEP]), cfg, operator).run()
    assert len(ledger.rollouts) == 1 and ledger.rollouts[0].success
    assert Ledger.load(tmp_path / "eval" / "ledger.json").summary()["n"] == 1


def test_console_operator_end_of_input_aborts():
    def eof(prompt):
        raise EOFError

    with pytest.raises(OperatorAbort, match="end of input"):
        ConsoleOperator(ask=eof).judge(0)


def test_existing_ledger_is_never_overwritten(tmp_path):
    cfg = EvaluationConfig(tmp_path / "eval", "BC", "t", rollouts=1, horizon=3)
    policy = ScriptedPolicy([STEP])
    EvaluationSession(fake_backend(), TinyEncoder(), policy, cfg, ScriptedOperator([True])).run()
    with pytest.raises(FileExistsError, match="never overwritten"):
        EvaluationSession(fake_backend(), TinyEncoder(), ScriptedPolicy([STEP]), cfg,
                          ScriptedOperator([True])).run()


def test_ledger_load_errors_name_the_file(tmp_path):
    with pytest.raises(LedgerError, match="no ledger"):
        Ledger.load(tmp_path)
    (tmp_path / "ledger.json").write_text('{"format": "other"}')
    with pytest.raises(LedgerError, match="not a vipflow ledger"):
        Ledger.load(tmp_path)


def test_ctrl_c_at_a_prompt_ends_the_session_cleanly(tmp_path):
    def interrupted(prompt):
        raise KeyboardInterrupt

    cfg = EvaluationConfig(tmp_path / "eval", "BC", "t", rollouts=3, horizon=3)
    backend = fake_backend()
    ledger = EvaluationSession(backend, TinyEncoder(), ScriptedPolicy([STEP]), cfg,
                               ConsoleOperator(ask=interrupted)).run()
    assert ledger.rollouts == [] and backend.robot.stopped
    assert (tmp_path / "eval" / "ledger.json").exists()


def test_ledger_records_the_limits_profile_and_envelope_it_ran_under(tmp_path):
    cfg = EvaluationConfig(tmp_path / "eval", "BC", "t", rollouts=1, horizon=3)
    ledger = EvaluationSession(fake_backend(), TinyEncoder(), ScriptedPolicy([STEP]), cfg,
                               ScriptedOperator([True])).run()
    saved = json.loads((tmp_path / "eval" / "ledger.json").read_text())["config"]
    assert saved["limits_profile"] == "franka" and saved["limits"]["profile"] == "franka"
    assert saved["envelope"]["name"] == "franka" and saved["envelope"]["rate_hz"] == 25.0
    assert saved["envelope"]["step"]["max_translation_m"] == pytest.approx(0.068)
    assert ledger.config["limits"]["step"]["max_translation_m"] == 0.01  # the defaults, enforced as given
