"""Acceptance: SIGKILL mid-episode loses nothing finished and never lets the partial pass as data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vipflow.episodes import (
    IncompleteEpisodeError,
    TruncatedBagError,
    list_episodes,
    read_episode,
    usable_episodes,
)
from vipflow.episodes.recovery import recover_dataset

CHILD = Path(__file__).with_name("record_child.py")


def _kill_mid_episode(dataset: Path, n_complete: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(dataset), str(n_complete)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    partial = dataset / ".partial" / f"episode_{n_complete:04d}"
    deadline = time.monotonic() + 60
    try:
        while not partial.exists():
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "recorder never started the last episode"
            time.sleep(0.05)
        time.sleep(2.5)  # > flush interval: some of the episode has reached the disk
        assert proc.poll() is None
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_sigkill_mid_episode(dataset):
    _kill_mid_episode(dataset, 2)
    listing = {s.name: s for s in list_episodes(dataset)}
    assert set(listing) == {"episode_0000", "episode_0001", "episode_0002"}
    for name in ("episode_0000", "episode_0001"):
        assert listing[name].usable and listing[name].label == "success"
        g = read_episode(dataset / name).on_grid()
        assert len(g) > 5 and g.frames.shape[0] == len(g)
    assert listing["episode_0002"].status == "partial" and not listing["episode_0002"].usable
    assert [s.name for s in usable_episodes(dataset)] == ["episode_0000", "episode_0001"]
    with pytest.raises(TruncatedBagError):
        read_episode(dataset / ".partial" / "episode_0002")

    results = recover_dataset(dataset)
    assert [(r.name, r.status) for r in results] == [("episode_0002", "recovered")]
    assert results[0].messages > 100 and results[0].kept_at.exists()  # raw bytes kept
    after = {s.name: s for s in list_episodes(dataset)}
    assert after["episode_0002"].status == "incomplete" and not after["episode_0002"].usable
    with pytest.raises(IncompleteEpisodeError, match="interrupted"):
        read_episode(dataset / "episode_0002")
    ep = read_episode(dataset / "episode_0002", allow_incomplete=True)
    assert ep.meta.task == "close drawer" and ep.meta.index == 2 and ep.meta.incomplete
    assert ep.topics["/camera/color/image_raw"][1] >= 30  # ~2 s at 30 Hz reached the disk
    assert len(ep.on_grid()) > 10
    assert [s.name for s in usable_episodes(dataset)] == ["episode_0000", "episode_0001"]
