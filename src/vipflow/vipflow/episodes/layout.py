"""Where things live inside a dataset directory.

dataset/
  manifest.json            list of episodes (rebuilt from the episodes, never the source of truth)
  episode_0000/            one finished rosbag2 episode: metadata.yaml, episode_0000.mcap, episode.json
  .partial/episode_0001/   an episode being recorded (or left behind by a crash)
  .trash/episode_0002/     deleted or discarded episodes; `vipflow episodes restore` brings them back
"""

from __future__ import annotations

import re
from pathlib import Path

PARTIAL_DIR = ".partial"
TRASH_DIR = ".trash"
MANIFEST = "manifest.json"
EPISODE_JSON = "episode.json"
METADATA_YAML = "metadata.yaml"
EPISODE_NAME = re.compile(r"^episode_(\d+)")


def staging_path(final: Path) -> Path:
    """Episodes are written here and renamed to ``final`` only once complete (atomic on POSIX)."""
    return final.parent / PARTIAL_DIR / final.name


def dataset_of(episode_dir: Path) -> Path:
    """The dataset directory holding an episode (also for one still in ``.partial``)."""
    parent = episode_dir.parent
    return parent.parent if parent.name == PARTIAL_DIR else parent


def next_episode_index(dataset: Path) -> int:
    """One past the highest episode number anywhere in the dataset (trash included, so a
    restored episode never collides with a new one)."""
    names = [
        p.name
        for d in (dataset, dataset / PARTIAL_DIR, dataset / TRASH_DIR)
        if d.is_dir()
        for p in d.iterdir()
    ]
    numbers = [int(mt.group(1)) for n in names if (mt := EPISODE_NAME.match(n))]
    return max(numbers, default=-1) + 1
