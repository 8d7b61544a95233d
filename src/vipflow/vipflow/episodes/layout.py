"""Where things live inside a dataset directory.

dataset/
  manifest.json            list of episodes (rebuilt from the episodes, never the source of truth)
  episode_0000/            one finished rosbag2 episode: metadata.yaml, episode_0000.mcap, episode.json
  .partial/episode_0001/   an episode being recorded (or left behind by a crash)
  .trash/episode_0002/     deleted or discarded episodes; `vipflow episodes restore` brings them back
"""

from __future__ import annotations

from pathlib import Path

PARTIAL_DIR = ".partial"
TRASH_DIR = ".trash"
MANIFEST = "manifest.json"
EPISODE_JSON = "episode.json"
METADATA_YAML = "metadata.yaml"


def staging_path(final: Path) -> Path:
    """Episodes are written here and renamed to ``final`` only once complete (atomic on POSIX)."""
    return final.parent / PARTIAL_DIR / final.name


def dataset_of(episode_dir: Path) -> Path:
    """The dataset directory holding an episode (also for one still in ``.partial``)."""
    parent = episode_dir.parent
    return parent.parent if parent.name == PARTIAL_DIR else parent
