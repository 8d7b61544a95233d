"""Frames in, (embedding, value, reward) out: the reward node's work, without rclpy.

``RewardStream`` holds the encoder and the current goal; the goal can be replaced at any time
(a parameter change) and the next frame's reward then starts from zero, because a reward is a
difference of two values measured against the *same* goal. ``RewardWorker`` runs the stream in
its own thread on the newest frame only, so encoding (tens of ms on a CPU) never blocks the ROS
executor and a slow encoder drops frames instead of falling behind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vipflow.hardware import CameraTimeout, HardwareError
from vipflow.rewards import values as reward_values


@dataclass(frozen=True)
class RewardSample:
    header_ns: int  # the image's header stamp (ROS time): derived messages carry it
    embedding: np.ndarray  # (D,) float32
    value: float | None  # None while no goal is set
    reward: float | None  # value - previous value under the same goal; 0.0 on the first frame


class RewardStream:
    """Encodes frames and measures them against the goal (VIP eq. 4 / LIV eq. 2)."""

    def __init__(self, encoder, gamma: float = 0.98) -> None:
        self.encoder = encoder
        self.gamma = gamma
        self._lock = threading.Lock()
        self._goal: np.ndarray | None = None
        self.goal_description = ""
        self._last_value: float | None = None

    def set_goal(self, embedding: np.ndarray | None, description: str = "") -> None:
        goal = None if embedding is None else np.asarray(embedding, np.float32).reshape(-1)
        if goal is not None and not np.isfinite(goal).all():
            raise ValueError("goal embedding contains NaN or inf")
        with self._lock:
            self._goal, self.goal_description, self._last_value = goal, description, None

    def step(self, rgb: np.ndarray, header_ns: int = 0) -> RewardSample:
        emb = np.asarray(self.encoder.embed_images(rgb[None], batch_size=1), np.float32)[0]
        with self._lock:
            goal = self._goal
            if goal is None:
                return RewardSample(header_ns, emb, None, None)
            if goal.shape != emb.shape:
                raise ValueError(
                    f"goal has {goal.size} values but the encoder gives {emb.size}; the goal was made with "
                    "another encoder"
                )
            value = float(reward_values(emb[None], goal, self.encoder.similarity, self.gamma)[0])
            reward = 0.0 if self._last_value is None else value - self._last_value
            self._last_value = value
        return RewardSample(header_ns, emb, value, reward)


class RewardWorker:
    """Thread: newest camera frame -> ``stream.step`` -> ``sink(sample)``; errors go to ``on_error``.

    ``camera`` needs ``read_stamped(timeout) -> (Frame, header_ns)`` (``TopicCamera``). A camera
    timeout is reported (once per silence) and waited out; the worker stops with ``stop()``.
    """

    def __init__(
        self,
        camera,
        stream: RewardStream,
        sink: Callable[[RewardSample], None],
        on_error: Callable[[str], None],
        timeout_s: float = 2.0,
    ) -> None:
        self.camera, self.stream, self.sink, self.on_error = camera, stream, sink, on_error
        self.timeout_s = timeout_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reward-worker", daemon=True)
        self.samples = 0

    def start(self) -> None:
        self.camera.start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.camera.stop()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        silent = False
        while not self._stop.is_set():
            try:
                frame, header_ns = self.camera.read_stamped(self.timeout_s)
            except CameraTimeout as exc:
                if not silent and not self._stop.is_set():
                    self.on_error(str(exc))
                silent = True
                continue
            except HardwareError as exc:  # an unusable message (encoding, damaged rows): skip it
                self.on_error(f"frame skipped: {exc}")
                continue
            silent = False
            try:
                sample = self.stream.step(frame.rgb, header_ns)
            except (ValueError, HardwareError) as exc:
                self.on_error(f"frame skipped: {exc}")
                continue
            self.samples += 1
            self.sink(sample)
