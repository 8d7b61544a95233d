"""Frames from videos (mp4 or any OpenCV-decodable file) and folders of images, as uint8 RGB
arrays (T,H,W,3), and mp4 writing. Videos are read in chunks so long ones fit in memory.

Recorded episodes are frames too: ``vipflow.recordings.open_recording`` opens any of the three.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


class VideoError(Exception):
    """Base class: a recording cannot be turned into frames."""


class RecordingNotFoundError(VideoError, FileNotFoundError):
    """The path does not exist."""


class UnreadableVideoError(VideoError):
    """The file is not a decodable video (corrupt, empty, unsupported codec)."""


class FrameFolderError(VideoError):
    """A frame folder is empty, has unreadable images, or images of different sizes."""


def _natural_key(path: Path) -> list:
    """frame_2.png before frame_10.png."""
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", path.name)]


def read_image(path: str | Path) -> np.ndarray:
    """One image file -> (H,W,3) uint8 RGB (grey and alpha are converted)."""
    path = Path(path)
    if not path.is_file():
        raise RecordingNotFoundError(f"image {path} does not exist")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FrameFolderError(f"{path}: not a readable image (supported: {', '.join(IMAGE_SUFFIXES)})")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class VideoWriteError(VideoError, OSError):
    """OpenCV cannot create the output file (folder missing or not writable, unknown suffix)."""


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 25.0) -> Path:
    """uint8 RGB frames -> mp4 (mp4v), e.g. for sharing reward examples and episodes, and for tests.

    ``frames`` is a (T,H,W,3) array or any iterable of (H,W,3) frames (streamed: a long episode
    never sits in memory at once).
    """
    path = Path(path)
    writer = None
    shape = None
    try:
        for frame in frames:
            frame = np.asarray(frame)
            rgb = frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[-1] == 3
            if not rgb or shape not in (None, frame.shape):
                raise ValueError(
                    f"write_video needs uint8 RGB (H,W,3) frames of one size; got {frame.dtype} {frame.shape}"
                    + (f" after {shape}" if shape else "")
                )
            if writer is None:
                shape = frame.shape
                writer = cv2.VideoWriter(
                    str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (shape[1], shape[0])
                )
                if not writer.isOpened():
                    raise VideoWriteError(
                        f"OpenCV cannot write {path}; check that the folder exists and is writable and "
                        "that the suffix is .mp4"
                    )
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        if writer is not None:
            writer.release()
    if writer is None:
        raise ValueError(f"write_video got no frames for {path}")
    return path


def _undecodable(path: str | Path) -> UnreadableVideoError:
    return UnreadableVideoError(
        f"{path}: not a decodable video (corrupt file or unsupported codec). Check it plays, or "
        f"re-encode it: ffmpeg -i {Path(path).name} -c:v libx264 -pix_fmt yuv420p fixed.mp4"
    )


def iter_video(path: str | Path) -> Iterator[tuple[int, np.ndarray]]:
    """(presentation time ns, (H,W,3) uint8 RGB) for each frame of a video file, decoded lazily.

    Raises ``UnreadableVideoError`` (on the first ``next``) when OpenCV cannot open the file.
    """
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise _undecodable(path)
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        i = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            msec = cap.get(cv2.CAP_PROP_POS_MSEC)
            t = round(msec * 1e6) if (msec > 0 or i == 0) else round(i * 1e9 / fps)
            yield t, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            i += 1
    finally:
        cap.release()


@dataclass
class Recording:
    """A source of frames. ``length`` is exact for folders and episodes; for videos it is the
    container's frame count (used for progress bars only)."""

    path: Path
    kind: str  # "video" | "frames" | "episode"
    length: int
    fps: float | None = None
    label: str | None = None  # episodes: success / failure / unlabeled
    goal_text: str = ""  # episodes: the task's goal sentence, if recorded
    frame_stamps_ns: np.ndarray | None = None  # episodes: bag time of each frame (reward sidecars)
    _frames: np.ndarray | None = None
    _files: list[Path] | None = None

    def chunks(self, size: int = 64) -> Iterator[np.ndarray]:
        """Consecutive (n<=size,H,W,3) uint8 RGB blocks, in order."""
        if self.kind == "video":
            yield from _video_chunks(self.path, size)
        elif self.kind == "frames":
            shape = None
            for start in range(0, len(self._files), size):
                files = self._files[start : start + size]
                images = [read_image(f) for f in files]
                shape = shape or images[0].shape
                for f, im in zip(files, images, strict=True):
                    if im.shape != shape:
                        raise FrameFolderError(
                            f"{f}: size {im.shape[:2]} differs from the first frame's {shape[:2]}; "
                            "resize the frames to one size"
                        )
                yield np.stack(images)
        else:
            for start in range(0, len(self._frames), size):
                yield self._frames[start : start + size]

    def read(self) -> np.ndarray:
        """All frames at once (T,H,W,3)."""
        return np.concatenate(list(self.chunks()), axis=0)


def _video_chunks(path: Path, size: int) -> Iterator[np.ndarray]:
    block: list[np.ndarray] = []
    total = 0
    for _, rgb in iter_video(path):
        block.append(rgb)
        total += 1
        if len(block) == size:
            yield np.stack(block)
            block = []
    if block:
        yield np.stack(block)
    if total == 0:
        raise UnreadableVideoError(f"{path}: no frame could be decoded (empty or corrupt video)")


def open_video(path: Path) -> Recording:
    """A video file as a ``Recording`` (frames decoded lazily, in chunks)."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise _undecodable(path)
        ok, _ = cap.read()
        if not ok:
            raise UnreadableVideoError(f"{path}: the video has no decodable frame (empty or corrupt)")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = cap.get(cv2.CAP_PROP_FPS) or None
    finally:
        cap.release()
    return Recording(path, "video", max(count, 1), fps=fps)


def open_frame_folder(path: Path) -> Recording:
    """A folder of images (natural order: frame_2 before frame_10) as a ``Recording``."""
    files = sorted((f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
    if not files:
        raise FrameFolderError(
            f"{path}: no image files ({', '.join(IMAGE_SUFFIXES)}) and not an episode directory "
            "(no metadata.yaml)"
        )
    return Recording(path, "frames", len(files), _files=files)
