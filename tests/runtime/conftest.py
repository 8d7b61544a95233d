"""Shared pieces for runtime tests: a tiny encoder and scripted policies (the hardware is faked
by ``vipflow.hardware.fake``; encoder and policy are the parts under the loop's control)."""

from __future__ import annotations

import numpy as np
import pytest

from vipflow.hardware.fake import FakeCamera, FakeRobot, ManualClock


class TinyEncoder:
    """Mean colour per image quadrant: a real function of the pixels, cheap enough for tests."""

    embed_dim = 12

    def embed_images(self, frames, batch_size=32, progress=False):
        f = np.asarray(frames, dtype=np.float32) / 255.0
        h, w = f.shape[1] // 2, f.shape[2] // 2
        quads = [f[:, :h, :w], f[:, :h, w:], f[:, h:, :w], f[:, h:, w:]]
        return np.concatenate([q.mean(axis=(1, 2)) for q in quads], axis=1)


class ScriptedPolicy:
    """Returns ``actions[i]`` on the i-th call (the last one repeats); records its inputs."""

    def __init__(self, actions, action_space="ee_delta", proprio_keys=("ee_pose", "gripper")):
        self.actions = [np.asarray(a, dtype=np.float64) for a in actions]
        self.action_space = action_space
        self.proprio_keys = proprio_keys
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []

    def act(self, embedding, proprio, task=None):
        self.calls.append((embedding, proprio))
        return self.actions[min(len(self.calls) - 1, len(self.actions) - 1)]


def started_rig(clock):
    """(clock, camera, robot): a small fake camera and a fake robot on ``clock``, both started."""
    camera, robot = FakeCamera(clock, height=32, width=32), FakeRobot(clock)
    camera.start()
    robot.start()
    return clock, camera, robot


@pytest.fixture
def rig():
    """Virtual-time camera + robot, started."""
    return started_rig(ManualClock())
