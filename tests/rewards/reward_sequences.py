"""Frame sequences with a known answer, and writers for them in the real formats (mp4, frame
folders, rosbag2 episodes)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vipflow.episodes import EpisodeMeta, EpisodeWriter
from vipflow.hardware import Frame, RobotState
from vipflow.video import write_video

HOME_POSE = np.array([0.4, 0.0, 0.3, 0.0, 0.0, 0.0, 1.0])


def smooth_image(seed: int, h: int = 96, w: int = 128) -> np.ndarray:
    """Low-frequency float image in [0,1] (survives mp4 compression)."""
    coarse = np.random.default_rng(seed).random((6, 8, 3)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)


def approaching(length: int = 30, amplitude: float = 60.0, seed: int = 0, h: int = 96, w: int = 128):
    """Frames x_t = goal + (1 - t/(T-1)) * amplitude * d: the last frame is the goal and every step
    moves straight toward it. The start is close enough to the goal that any smooth encoder is
    near-linear along the path, so distance to the goal must fall at every step."""
    goal = smooth_image(seed + 1, h, w) * 200 + 28
    direction = (smooth_image(seed + 2, h, w) - 0.5) * 2
    remaining = np.linspace(1.0, 0.0, length)[:, None, None, None]
    return np.clip(goal + remaining * amplitude * direction, 0, 255).round().astype(np.uint8)


def write_frame_folder(folder: Path, frames: np.ndarray) -> Path:
    folder.mkdir(parents=True)
    for i, f in enumerate(frames):  # unpadded names: natural order must still hold
        cv2.imwrite(str(folder / f"frame_{i}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return folder


def write_episode(path: Path, frames: np.ndarray, label: str, rate_hz: float = 25.0) -> Path:
    """A real rosbag2 episode: one camera frame and one robot state per tick."""
    meta = EpisodeMeta(task="reach goal", goal_text="reach the goal", nominal_rate_hz=rate_hz,
                       camera={"fps": rate_hz}, robot={"state_rate_hz": rate_hz})
    t0, dt = 1_000_000_000, int(1e9 / rate_hz)
    with EpisodeWriter(path, meta, time_offset_ns=0) as w:
        for i, img in enumerate(frames):
            t = t0 + i * dt
            w.write_frame(Frame(t, img))
            w.write_state(RobotState(t, np.zeros(7), np.zeros(7), HOME_POSE, 0.04))
        w.close(label)
    return path


def write_mp4(path: Path, frames: np.ndarray, fps: float = 25.0) -> Path:
    return write_video(path, frames, fps)
