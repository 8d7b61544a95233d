"""Encoder in its own process: the session runs rollouts through it; start-up failures are named."""

from __future__ import annotations

import functools
import os
import signal
import warnings

import numpy as np
import pytest

from tests.runtime.conftest import ScriptedPolicy
from vipflow.encoders import load_encoder
from vipflow.evaluation.backend import HardwareBackend
from vipflow.evaluation.session import EvaluationConfig, EvaluationSession
from vipflow.hardware import MonotonicClock
from vipflow.hardware.fake import FakeCamera, FakeRobot
from vipflow.runtime.perception import WARM_UP_FRAME, EncoderWorkerError, RemoteEncoder

pytestmark = pytest.mark.slow
SMALL = functools.partial(load_encoder, "vip", arch="convnet-small", random_init=True)


class Verdicts:
    def prepare(self, index, total):
        pass

    def judge(self, index):
        return index == 0


def test_session_with_the_encoder_in_a_process(tmp_path):
    clock = MonotonicClock()
    backend = HardwareBackend(FakeCamera(clock, height=48, width=64), FakeRobot(clock), clock, name="fake",
                              perception="process")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = SMALL()  # the same recipe in this process: goals and fingerprints use it
    cfg = EvaluationConfig(tmp_path / "eval", "BC", "t", rollouts=2, horizon=15)
    policy = ScriptedPolicy([[0.002, 0, 0, 0, 0, 0, 0.04]])
    ledger = EvaluationSession(backend, local, policy, cfg, Verdicts(), encoder_factory=SMALL).run()
    assert [r.stop_reason for r in ledger.rollouts] == ["completed", "completed"]
    held = sum(sum(r.holds.values()) for r in ledger.rollouts)
    assert len(backend.robot.commands) + held == 30 and held <= 5  # real clock: a slow first frame may hold
    reasons = {k for r in ledger.rollouts for k in r.holds}
    assert all(k.startswith(("stale observation", "no observation")) for k in reasons)
    assert ledger.timing["encoder_latency_ms"]["n"] > 0
    emb, _ = policy.calls[-1]
    assert emb.shape == (local.embed_dim,)


def test_encoder_process_start_failure_is_named():
    remote = RemoteEncoder(functools.partial(load_encoder, "no_such_encoder"), startup_timeout_s=120)
    with pytest.raises(EncoderWorkerError, match=r"failed to start.*no_such_encoder"):
        remote.start()
    with pytest.raises(EncoderWorkerError, match="not running"):
        remote.embed_images(None)


def test_ctrl_c_leaves_the_encoder_process_to_its_parent():
    """Ctrl-C signals the whole process group: the encoder keeps serving until the parent (which
    safe-stops the loop first) closes it."""
    remote = RemoteEncoder(SMALL, startup_timeout_s=120)
    remote.start()
    try:
        os.kill(remote._proc.pid, signal.SIGINT)
        frames = np.zeros((1, *WARM_UP_FRAME), dtype=np.uint8)
        assert remote.embed_images(frames).shape[0] == 1
    finally:
        remote.close()
