"""Issue 12, finding 3: `episodes recover` never strands data, tested on a real full disk.

Before the fix, recovering while the disk was still full moved the raw recording to
`.trash/<name>.interrupted-*` and then failed; after space was freed `recover` found "0 messages",
the dataset listed no episode, and `episodes restore` refused the trash entry. Now recovery
copies first and commits with two renames, so after any failure the raw bytes are still in
`.partial/` where the same command finds them.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from vipflow.cli.main import main
from vipflow.episodes import DiskFullError, EpisodeMeta, EpisodeWriter, list_episodes, read_episode
from vipflow.hardware import Frame, RobotState


@pytest.fixture
def small_disk(mount_tmpfs):
    return mount_tmpfs("4m")  # a real 4 MB disk, filled by the tests


def _interrupted_recording(dataset):
    """A recording that stopped without closing (the recorder was killed): ~1 MB in .partial."""
    w = EpisodeWriter(dataset / "episode_0000", EpisodeMeta(task="t"), time_offset_ns=0, flush_interval_s=0.0)
    for i in range(40):
        t = 10**12 + i * 40_000_000
        w.write_frame(Frame(t, np.full((120, 80, 3), i, np.uint8)))
        w.write_state(RobotState(t, np.zeros(7), np.zeros(7), np.array([0.4, 0, 0.3, 0, 0, 0, 1.0]), 0.04))
    w.abandon()
    (mcap,) = (dataset / ".partial" / "episode_0000").glob("*.mcap")
    return mcap


def _fill(disk):
    """Fill the disk up; returns the filler to delete later."""
    filler = disk / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_recover_on_a_full_disk_keeps_the_raw_recording_recoverable(small_disk, capsys):
    dataset = small_disk / "dataset"
    mcap = _interrupted_recording(dataset)
    before = _digest(mcap)
    filler = _fill(small_disk)

    assert main(["episodes", "recover", str(dataset)]) == 1
    err = capsys.readouterr().err
    assert "untouched" in err and "Traceback" not in err
    assert _digest(mcap) == before  # the raw bytes did not move
    assert not (dataset / ".trash").exists() or not list((dataset / ".trash").iterdir())
    assert [s.status for s in list_episodes(dataset)] == ["partial"]

    filler.unlink()
    assert main(["episodes", "recover", str(dataset)]) == 0
    out = capsys.readouterr().out
    assert "episode_0000: recovered" in out and " 0 messages" not in out
    (s,) = list_episodes(dataset)
    assert s.status == "incomplete"
    ep = read_episode(dataset / "episode_0000", allow_incomplete=True)
    assert ep.topics["/camera/color/image_raw"][1] >= 30
    (kept,) = (dataset / ".trash").iterdir()  # the raw recording, for reference
    assert _digest(next(kept.glob("*.mcap"))) == before


def test_a_write_failure_midway_leaves_the_raw_recording_in_place(small_disk, monkeypatch):
    """The space estimate says yes, the disk says no: the real ENOSPC in the middle of writing the
    recovered copy is cleaned up and the raw bytes stay put for the next attempt."""
    from vipflow.episodes import recovery

    dataset = small_disk / "dataset"
    mcap = _interrupted_recording(dataset)
    before = _digest(mcap)
    filler = _fill(small_disk)
    monkeypatch.setattr(recovery, "free_bytes", lambda path: 10**12)  # skip the pre-check only
    with pytest.raises(DiskFullError, match="untouched"):
        recovery.recover_dataset(dataset)
    assert _digest(mcap) == before
    assert not (dataset / "episode_0000").exists() and not (dataset / recovery.RECOVERING_DIR).exists()
    filler.unlink()
    (r,) = recovery.recover_dataset(dataset)
    assert r.status == "recovered" and r.messages > 100
