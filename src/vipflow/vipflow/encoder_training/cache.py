"""Frames decoded once, stored as uint8 arrays at training resolution.

Each video becomes one ``.npy`` file of shape (T, H, W, 3), with its short side resized to the
cache size (aspect ratio kept, area interpolation), and ``index.json`` records what each file
was made from. Training reads them memory-mapped, so a sample costs four small array slices
instead of four JPEG decodes, and DataLoader workers share the pages through the OS cache.
A second run with the same sources reuses the files; a changed source (size, mtime, frame list)
or a different cache size rebuilds only that video. Files are written to a temporary name and
renamed, so an interrupted build never leaves a truncated array behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from vipflow.encoder_training.errors import TrainingDataError
from vipflow.encoder_training.sampling import MIN_FRAMES
from vipflow.encoder_training.sources import VideoSource

INDEX_NAME = "index.json"
INDEX_VERSION = 1


def resize_short_side(frame: np.ndarray, short_side: int) -> np.ndarray:
    """Resize so that min(H, W) == short_side; area interpolation when shrinking (anti-aliased)."""
    h, w = frame.shape[:2]
    scale = short_side / min(h, w)
    if scale == 1.0:
        return np.ascontiguousarray(frame)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(frame, size, interpolation=interp)


def decode_resized(source: VideoSource, short_side: int) -> np.ndarray:
    """All frames of one source at the cache resolution, as (T, H, W, 3) uint8."""
    frames = []
    for i, frame in enumerate(source.frames()):
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise TrainingDataError(
                f"{source.name}: frame {i} is {frame.shape} {frame.dtype}, expected (H, W, 3) uint8"
            )
        small = resize_short_side(frame, short_side)
        if frames and small.shape != frames[0].shape:
            raise TrainingDataError(
                f"{source.name}: frame {i} is {frame.shape[:2]}, earlier frames differ in size"
            )
        frames.append(small)
    if len(frames) < MIN_FRAMES:
        raise TrainingDataError(
            f"{source.name} has {len(frames)} frames; training needs at least {MIN_FRAMES} per video "
            "(drop it or record a longer one)"
        )
    return np.stack(frames)


@dataclass
class FrameCache:
    """The decoded training videos. ``video(i)`` is a (T, H, W, 3) uint8 array (memory-mapped
    when the cache lives on disk); ``texts[i]`` is its annotation ("" if none)."""

    names: list[str]
    texts: list[str]
    files: list[Path | None]
    arrays: list[np.ndarray | None]

    def __len__(self) -> int:
        return len(self.names)

    def video(self, i: int) -> np.ndarray:
        if self.arrays[i] is None:
            try:
                self.arrays[i] = np.load(self.files[i], mmap_mode="r")
            except (OSError, ValueError) as e:
                raise TrainingDataError(
                    f"frame cache file {self.files[i]} for {self.names[i]} is unreadable ({e}); "
                    "delete it and re-run to rebuild it"
                ) from e
        return self.arrays[i]

    def lengths(self) -> list[int]:
        return [len(self.video(i)) for i in range(len(self))]

    def subset(self, indices: Sequence[int]) -> FrameCache:
        return FrameCache(
            [self.names[i] for i in indices],
            [self.texts[i] for i in indices],
            [self.files[i] for i in indices],
            [self.arrays[i] for i in indices],
        )

    def __getstate__(self) -> dict:
        # Spawned DataLoader workers re-open the memory maps instead of receiving copies.
        state = dict(self.__dict__)
        state["arrays"] = [None if f is not None else a for f, a in zip(self.files, self.arrays, strict=True)]
        return state

    @classmethod
    def in_memory(cls, sources: Sequence[VideoSource], short_side: int, progress: bool = False) -> FrameCache:
        """Decode into RAM (small data sets, simulator videos); nothing is written to disk."""
        arrays = [decode_resized(s, short_side) for s in tqdm(sources, desc="decoding", disable=not progress)]
        return cls([s.name for s in sources], [s.text for s in sources], [None] * len(sources), list(arrays))

    @classmethod
    def build(
        cls, sources: Sequence[VideoSource], cache_dir: str | Path, short_side: int, progress: bool = True
    ) -> FrameCache:
        """Decode what is not cached yet into ``cache_dir``; reuse what is."""
        cache_dir = Path(cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
        index = _read_index(cache_dir)
        files: list[Path | None] = []
        todo = []
        for s in sources:
            identity = s.identity()
            key = hashlib.sha256(f"{identity}\0{short_side}".encode()).hexdigest()[:24]
            entry = index.get(key)
            file = cache_dir / f"{key}.npy"
            if entry is None or not file.is_file() or entry.get("identity") != identity:
                todo.append((s, key, identity, file))
            files.append(file)
        for s, key, identity, file in tqdm(
            todo, desc=f"caching frames ({short_side}px)", disable=not progress
        ):
            frames = decode_resized(s, short_side)
            tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
            with tmp.open("wb") as f:
                np.save(f, frames)
            os.replace(tmp, file)
            index[key] = {
                "identity": identity,
                "name": s.name,
                "num_frames": len(frames),
                "shape": list(frames.shape),
            }
            _write_index(cache_dir, index)
        return cls([s.name for s in sources], [s.text for s in sources], files, [None] * len(sources))


def _read_index(cache_dir: Path) -> dict:
    path = cache_dir / INDEX_NAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}  # an unreadable index only costs a rebuild
    return data.get("videos", {}) if data.get("version") == INDEX_VERSION else {}


def _write_index(cache_dir: Path, videos: dict) -> None:
    tmp = cache_dir / f".{INDEX_NAME}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"version": INDEX_VERSION, "videos": videos}, indent=1))
    os.replace(tmp, cache_dir / INDEX_NAME)
