"""Where training videos come from: mp4 files, frame folders, recorded episodes, manifests.

Every source is resolved to a :class:`VideoSource` once, up front: manifests give explicit frame
file names and folders are listed a single time, so nothing scans directories per sample (the
official VIP loader re-globs the data root and the video folder for every sample). The frames
themselves are decoded once, into the frame cache (:mod:`vipflow.encoder_training.cache`).

Supported layouts:

* a video file (``.mp4``, ``.avi``, ``.mov``, ``.mkv``, ``.webm``);
* a folder of frames (image files), ordered by the number in the file name;
* a recorded episode (rosbag2 directory), read on its nominal-rate grid; in a dataset folder, only
  finished episodes whose label is in ``episode_labels`` (default: success and unlabeled;
  failed demos do not end at the goal, which VIP-L and LIV's text goal assume);
* VIP's Ego4D ``manifest.csv`` with columns ``path,len``: frames ``{path}{i:06d}.jpg``,
  0-based (``path`` ends in ``/``);
* LIV's ``manifest.csv`` with columns ``directory,text,num_frames``: frames
  ``{directory}/{i}.jpg`` or ``.png``, 0-based, with the text annotation;
* a folder holding any mix of the above, one level deep.

Relative paths inside a manifest are relative to the manifest's folder.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vipflow.encoder_training.errors import TrainingDataError
from vipflow.episodes import EpisodeError, read_episode
from vipflow.episodes.dataset import is_episode_dir, summarize
from vipflow.video import IMAGE_SUFFIXES, VideoError, iter_video, read_image

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm"})
EGO4D_COLUMNS = ("path", "len")
LIV_COLUMNS = ("directory", "text", "num_frames")
DEFAULT_EPISODE_LABELS = ("success", "unlabeled")


@dataclass(frozen=True)
class VideoSource:
    """One training video: how to decode its frames, and its text annotation (LIV)."""

    name: str
    kind: str  # "video" | "frames" | "episode" | "array"
    path: Path | None = None
    frame_files: tuple[Path, ...] = ()
    text: str = ""
    array: np.ndarray | None = field(default=None, compare=False, repr=False)

    def identity(self) -> str:
        """What the cache keys on: the location plus size and mtime of what is read.

        A changed video file or episode, or a frame folder whose listing, first or last frame
        changed, gets a new identity, so its stale cache entry is rebuilt. (Frame folders are not
        stat-ed frame by frame: millions of stats would dominate start-up on Ego4D-sized data. After
        editing a middle frame in place, delete that video's cache file.)
        """
        h = hashlib.sha256(f"{self.kind}\0{self.name}\0{self.text}".encode())
        h.update("\0".join(p.name for p in self.frame_files).encode())
        if self.array is not None:
            h.update(str(self.array.shape).encode())
            h.update(hashlib.sha256(np.ascontiguousarray(self.array)).digest())
        for p in self._stat_targets():
            try:
                st = p.stat()
            except OSError as e:
                raise TrainingDataError(
                    f"{self.name}: cannot read {p} ({e.strerror}); fix the path or remove it"
                ) from e
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}".encode())
        return h.hexdigest()

    def _stat_targets(self) -> Sequence[Path]:
        if self.kind == "frames":
            ends = [self.frame_files[0], self.frame_files[-1]] if self.frame_files else []
            return [self.frame_files[0].parent, *ends] if ends else []
        if self.kind == "episode" and self.path is not None:
            return sorted(p for p in self.path.iterdir() if p.is_file())
        return [self.path] if self.path is not None else []

    def frames(self) -> Iterator[np.ndarray]:
        """Yield (H, W, 3) uint8 RGB frames in order, one at a time (long videos never sit in RAM)."""
        try:
            if self.kind == "array":
                yield from self.array
            elif self.kind == "video":
                yield from (rgb for _, rgb in iter_video(self.path))
            elif self.kind == "frames":
                yield from (read_image(p) for p in self.frame_files)
            elif self.kind == "episode":
                episode = read_episode(self.path)
                yield from episode.on_grid(episode.meta.nominal_rate_hz).frames
            else:
                raise TrainingDataError(f"{self.name}: unknown source kind {self.kind!r}")
        except (VideoError, EpisodeError) as e:
            raise TrainingDataError(
                f"training video {self.name}: {e}; fix or remove it (or the manifest row)"
            ) from e


def _natural_key(name: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name))


def _image_files(folder: Path) -> list[Path]:
    with os.scandir(folder) as it:
        names = [e.name for e in it if e.is_file() and Path(e.name).suffix.lower() in IMAGE_SUFFIXES]
    return [folder / n for n in sorted(names, key=_natural_key)]


def _resolve(base: Path, value: str) -> str:
    """Relative to the manifest's folder; string join keeps Ego4D's trailing '/' (Path drops it)."""
    return value if os.path.isabs(value) else os.path.join(str(base), value)


def load_manifest(path: str | Path) -> list[VideoSource]:
    """Sources listed by an Ego4D-style (``path,len``) or LIV-style (``directory,text,num_frames``)
    ``manifest.csv``."""
    path = Path(path).expanduser()
    base = path.parent
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
            columns = set(rows[0]) if rows else set()
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise TrainingDataError(f"cannot read manifest {path}: {e}") from e
    if not rows:
        raise TrainingDataError(f"manifest {path} lists no videos")
    sources = []
    if set(LIV_COLUMNS) <= columns:
        for i, row in enumerate(rows):
            folder = Path(_resolve(base, row["directory"]))
            n = _manifest_length(path, i, row["num_frames"])
            suffix = ".jpg" if (folder / "0.jpg").is_file() else ".png"
            files = tuple(folder / f"{j}{suffix}" for j in range(n))
            sources.append(VideoSource(str(folder), "frames", folder, files, text=row["text"]))
    elif set(EGO4D_COLUMNS) <= columns:
        for i, row in enumerate(rows):
            prefix = _resolve(base, row["path"])
            n = _manifest_length(path, i, row["len"])
            files = tuple(Path(f"{prefix}{j:06d}.jpg") for j in range(n))
            sources.append(VideoSource(prefix, "frames", Path(prefix), files))
    else:
        raise TrainingDataError(
            f"manifest {path} has columns {sorted(columns)}; expected Ego4D-style {list(EGO4D_COLUMNS)} "
            f"or LIV-style {list(LIV_COLUMNS)}"
        )
    return sources


def _manifest_length(path: Path, row: int, value: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TrainingDataError(
            f"manifest {path} row {row + 2}: frame count {value!r} is not an integer"
        ) from None


def discover_sources(
    path: str | Path, episode_labels: Sequence[str] | None = DEFAULT_EPISODE_LABELS
) -> list[VideoSource]:
    """Resolve a path (file, folder, manifest, episode or dataset folder) into video sources.

    ``episode_labels``: which episode labels to train on (None: all finished episodes).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise TrainingDataError(f"training data {path} does not exist")
    if path.is_file():
        if path.name.endswith(".csv"):
            return load_manifest(path)
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return [VideoSource(str(path), "video", path)]
        raise TrainingDataError(
            f"{path} is neither a video ({', '.join(sorted(VIDEO_SUFFIXES))}) nor a manifest.csv"
        )
    if (path / "manifest.csv").is_file():
        return load_manifest(path / "manifest.csv")
    if is_episode_dir(path):
        return [_episode_source(path, None, strict=True)]
    files = _image_files(path)
    if files:
        return [VideoSource(str(path), "frames", path, tuple(files))]
    sources = []
    for child in sorted(path.iterdir(), key=lambda p: _natural_key(p.name)):
        if child.name.startswith("."):
            continue  # .partial/ and .trash/ of an episode dataset, hidden files
        if child.is_file() and child.suffix.lower() in VIDEO_SUFFIXES:
            sources.append(VideoSource(str(child), "video", child))
        elif is_episode_dir(child):
            found = _episode_source(child, episode_labels, strict=False)
            if found is not None:
                sources.append(found)
        elif child.is_dir() and (files := _image_files(child)):
            sources.append(VideoSource(str(child), "frames", child, tuple(files)))
    if not sources:
        raise TrainingDataError(
            f"found no videos, frame folders, episodes or manifest.csv in {path}; "
            "see docs/training.md for the supported layouts"
        )
    return sources


def _episode_source(folder: Path, labels: Sequence[str] | None, strict: bool) -> VideoSource | None:
    """An episode as a source; unusable or filtered-out episodes raise (strict) or are skipped."""
    summary = summarize(folder)
    if not summary.usable:
        problem = f"episode {folder} is {summary.status}: {summary.problem or 'recovered from a crash'}"
        if strict:
            raise TrainingDataError(f"{problem}; fix or recover it before training on it")
        log.warning("skipping %s", problem)
        return None
    if labels is not None and summary.label not in labels:
        log.info("skipping episode %s labelled %s", folder.name, summary.label)
        return None
    meta = summary.meta
    return VideoSource(str(folder), "episode", folder, text=meta.goal_text or meta.task)


def array_sources(videos: Sequence[np.ndarray], texts: Sequence[str] | None = None) -> list[VideoSource]:
    """In-memory videos ((T, H, W, 3) uint8 RGB each), e.g. rendered by the simulator."""
    if texts is not None and len(texts) != len(videos):
        raise TrainingDataError(f"got {len(videos)} videos but {len(texts)} texts")
    sources = []
    for i, v in enumerate(videos):
        v = np.asarray(v)
        if v.dtype != np.uint8 or v.ndim != 4 or v.shape[-1] != 3:
            raise TrainingDataError(f"video {i} must be (T, H, W, 3) uint8 RGB, got {v.shape} {v.dtype}")
        sources.append(VideoSource(f"array{i}", "array", text=texts[i] if texts else "", array=v))
    return sources
