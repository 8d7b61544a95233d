"""Any recording as frames: a video, a folder of images, or a recorded episode.

``open_recording`` is what commands that take "a recording" accept (rewards, goals, encoder
training inputs): it tells the three apart and returns a ``vipflow.video.Recording``. It sits
above both ``vipflow.video`` and ``vipflow.episodes`` (which itself writes mp4s through
``vipflow.video``), so neither needs the other at import.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vipflow.episodes import read_episode
from vipflow.video import (
    IMAGE_SUFFIXES,
    FrameFolderError,
    Recording,
    RecordingNotFoundError,
    open_frame_folder,
    open_video,
)


def _open_episode(path: Path) -> Recording:
    episode = read_episode(path)
    grid = episode.on_grid(episode.meta.nominal_rate_hz)
    return Recording(
        path, "episode", len(grid.frames), fps=grid.rate_hz, label=episode.meta.label,
        goal_text=episode.meta.goal_text, frame_stamps_ns=grid.frame_t_ns, _frames=grid.frames,
    )


def open_recording(path: str | Path) -> Recording:
    """An mp4 (or other video), a folder of frames, or an episode directory (rosbag2 + metadata.yaml)."""
    path = Path(path)
    if not path.exists():
        raise RecordingNotFoundError(f"{path} does not exist (expected a video, frame folder or episode)")
    if path.is_dir():
        return _open_episode(path) if (path / "metadata.yaml").is_file() else open_frame_folder(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise FrameFolderError(f"{path} is one image, not a sequence; pass its folder or use it as a goal")
    return open_video(path)


def read_frames(path: str | Path) -> np.ndarray:
    """Every frame of a recording (see `open_recording`) as (T,H,W,3) uint8 RGB."""
    return open_recording(path).read()
