"""Recorder session: keys, timers, discard, resume, compatibility, and clear I/O errors."""

from __future__ import annotations

import errno
import io
import shutil
import subprocess
import threading

import pytest
from rosbags.rosbag2 import Writer

from vipflow.episodes import (
    DatasetNotWritableError,
    DiskFullError,
    EpisodeMeta,
    EpisodeWriter,
    IncompatibleSessionError,
    list_episodes,
    read_episode,
)
from vipflow.hardware import Frame, HardwareError
from vipflow.hardware.fake import FakeCamera, FakeRobot
from vipflow.record.keys import QueueKeys, ScriptedKeys
from vipflow.record.session import RecorderSession, SessionConfig


def session(dataset, script, *, n=1, episode_s=0.4, width=32, resume=False, task="close drawer", **kw):
    cfg = SessionConfig(
        dataset=dataset,
        task=task,
        num_episodes=n,
        episode_time_s=episode_s,
        reset_time_s=0.0,
        state_rate_hz=100.0,
        resume=resume,
        **kw,
    )
    out = io.StringIO()
    cam = FakeCamera(fps=30, height=24, width=width)
    return RecorderSession(cfg, cam, FakeRobot(state_rate_hz=1000), ScriptedKeys(script), out=out), out, cam


@pytest.mark.slow
def test_labels_discard_timeout_and_summary_lines(dataset):
    script = [
        (0.05, "space"),
        (0.2, "s"),  # stop as success
        (0.05, "space"),
        (0.1, "r"),  # discard and re-record the same number
        (0.05, "space"),
        (0.2, "f"),  # stop as failure
        (0.05, "space"),
        (0.6, "u"),
    ]  # timer runs out (0.4 s) -> asked for a label
    rec, out, _ = session(dataset, script, n=3)
    result = rec.run()
    assert [e.label for e in result.episodes] == ["success", "discarded", "failure", "unlabeled"]
    listing = list_episodes(dataset)
    assert [(s.name, s.label) for s in listing] == [
        ("episode_0000", "success"),
        ("episode_0001", "failure"),
        ("episode_0002", "unlabeled"),
    ]
    text = out.getvalue()
    for name in ("episode_0000", "episode_0001", "episode_0002"):
        assert sum(line.startswith(f"{name}  ") for line in text.splitlines()) == 1 + (name == "episode_0001")
    assert "time up for episode_0002" in text
    timed = read_episode(dataset / "episode_0002")
    assert abs(timed.meta.camera["width"] - 32) == 0
    assert 0.3 < listing[2].duration_s < 0.5  # the episode timer cut it at 0.4 s
    assert any(p.name.startswith("episode_0001.discarded") for p in (dataset / ".trash").iterdir())
    assert (dataset / "manifest.json").exists()


@pytest.mark.slow
def test_resume_continues_numbering_and_checks_config(dataset):
    rec, _, _ = session(dataset, [(0.05, "space"), (0.15, "s")])
    rec.run()
    with pytest.raises(IncompatibleSessionError, match="--resume"):
        session(dataset, [])[0].run()
    with pytest.raises(IncompatibleSessionError, match=r"camera.width: recorded 32, now 40"):
        session(dataset, [], width=40, resume=True)[0].run()
    with pytest.raises(IncompatibleSessionError, match="task"):
        session(dataset, [], resume=True, task="open microwave")[0].run()
    rec, _, _ = session(dataset, [(0.05, "space"), (0.15, "f")], resume=True)
    rec.run()
    assert [s.name for s in list_episodes(dataset)] == ["episode_0000", "episode_0001"]
    assert read_episode(dataset / "episode_0001").meta.index == 1


def test_quit_before_start_records_nothing(dataset):
    rec, _, _ = session(dataset, [(0.05, "q")], n=3)
    result = rec.run()
    assert result.quit_early and result.episodes == [] and list_episodes(dataset) == []


@pytest.mark.slow
def test_camera_disconnect_keeps_episode_flagged_incomplete(dataset):
    rec, _, cam = session(dataset, [(0.05, "space")], episode_s=30.0)
    threading.Timer(0.6, cam.disconnect).start()
    with pytest.raises(HardwareError, match="disconnected"):
        rec.run()
    (s,) = list_episodes(dataset)
    assert s.status == "incomplete" and not s.usable and s.counts["camera"] > 3
    assert "disconnected" in s.meta.extra["error"]


# --- unwritable directory and full disk ----------------------------------------------------


@pytest.fixture
def unwritable(tmp_path):
    d = tmp_path / "locked"
    d.mkdir()
    d.chmod(0o555)
    immutable = False
    try:
        (d / "probe").touch()
    except PermissionError:
        pass
    else:  # root ignores permissions; make the directory immutable instead
        (d / "probe").unlink()
        if (
            shutil.which("chattr")
            and subprocess.run(["chattr", "+i", str(d)], capture_output=True).returncode == 0
        ):
            immutable = True
        else:
            pytest.skip("cannot make a directory unwritable for this user")
    yield d
    if immutable:
        subprocess.run(["chattr", "-i", str(d)], check=False)
    d.chmod(0o755)


def test_unwritable_dataset_is_a_clear_error(unwritable):
    with pytest.raises(DatasetNotWritableError, match="cannot write") as err:
        EpisodeWriter(unwritable / "episode_0000", EpisodeMeta(task="t"))
    assert "writable dataset directory" in str(err.value)
    rec, _, _ = session(unwritable / "sub", [])
    with pytest.raises(DatasetNotWritableError, match="cannot write"):
        rec.run()


def test_disk_full_mid_episode_is_a_clear_error_and_keeps_data(dataset, monkeypatch):
    real_write, calls = Writer.write, {"n": 0}

    def write(self, conn, t, data):
        calls["n"] += 1
        if calls["n"] > 500:  # ~1.5 s of recording: past the first 1 s flush
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, conn, t, data)

    monkeypatch.setattr(Writer, "write", write)
    rec, _, _ = session(dataset, [(0.05, "space")], episode_s=30.0)
    with pytest.raises(DiskFullError, match="disk full") as err:
        rec.run()
    assert "vipflow episodes recover" in str(err.value)
    monkeypatch.undo()
    (s,) = list_episodes(dataset)
    assert s.status == "partial"  # left for recovery, never presented as finished
    from vipflow.episodes.recovery import recover_dataset

    (r,) = recover_dataset(dataset)
    assert r.status == "recovered" and r.messages > 0


@pytest.fixture
def tiny_disk(mount_tmpfs):
    return mount_tmpfs("1m")


def test_real_full_disk(tiny_disk):
    import numpy as np

    w = EpisodeWriter(tiny_disk / "episode_0000", EpisodeMeta(task="t"), flush_interval_s=0.0)
    with pytest.raises(DiskFullError, match="disk full"):
        for i in range(100):  # 100 x 230 kB >> 1 MB
            w.write_frame(Frame(i * 33_000_000, np.full((240, 320, 3), i, np.uint8)))
    with pytest.raises(DiskFullError):  # the error is sticky: no silent half-writes afterwards
        w.write_frame(Frame(0, np.zeros((240, 320, 3), np.uint8)))
    w.abandon()
    from vipflow.episodes.recovery import scan_mcap

    (mcap,) = (tiny_disk / ".partial" / "episode_0000").glob("*.mcap")
    msgs, why = scan_mcap(mcap)
    assert len(msgs) >= 2 and why != "complete"  # what reached the disk is readable
    rec, _, _ = session(tiny_disk / "ds", [])
    with pytest.raises(DiskFullError, match="MB free"):  # the session checks space before recording
        rec.run()


def test_a_new_scene_is_set_up_before_every_start_key_never_inside_an_episode(dataset):
    """The simulator's reset (``new_scene``) happens while the session waits for the start key:
    once per episode, also for the one re-recorded after a discard, and never while recording."""
    script = [(0.05, "space"), (0.15, "s"), (0.05, "space"), (0.1, "r"), (0.05, "space"), (0.15, "f")]
    rec, out, _ = session(dataset, script, n=2)
    calls: list[str] = []
    rec.new_scene = lambda: calls.append(out.getvalue().splitlines()[-1] if out.getvalue() else "")
    result = rec.run()
    assert [e.label for e in result.episodes] == ["success", "discarded", "failure"]
    assert len(calls) == 3  # before episode_0000, episode_0001, and episode_0001 again
    assert all(not line.startswith("REC") for line in calls)  # the last prompt before it was no recording


def test_a_failed_new_scene_ends_the_session_with_the_episodes_kept(dataset):
    rec, _, _ = session(dataset, [(0.05, "space"), (0.15, "s")], n=2)
    scenes = iter([None])

    def new_scene() -> None:
        if next(scenes, "gone") == "gone":
            raise HardwareError("service /kitchen/reset (scene reset) is not available")

    rec.new_scene = new_scene
    with pytest.raises(HardwareError, match="scene reset"):
        rec.run()
    assert [(s.name, s.label) for s in list_episodes(dataset)] == [("episode_0000", "success")]


def test_a_start_key_typed_before_the_new_scene_is_ready_must_come_again(dataset):
    """The simulator may take such a key before its reset, which then stops the demo the key
    began: the session must not record that demo's still arm, so it asks for the key again."""
    import time

    keys = QueueKeys()
    cfg = SessionConfig(dataset=dataset, task="t", num_episodes=1, episode_time_s=5.0, reset_time_s=0.0)
    out = io.StringIO()
    rec = RecorderSession(cfg, FakeCamera(fps=30, height=24, width=32), FakeRobot(state_rate_hz=100), keys,
                          out=out, new_scene=lambda: keys.push("space"))  # typed during the reset
    thread = threading.Thread(target=rec.run, daemon=True)
    thread.start()

    def wait_for(text: str) -> None:
        end = time.monotonic() + 10
        while text not in out.getvalue() and time.monotonic() < end:
            time.sleep(0.02)
        assert text in out.getvalue(), out.getvalue()

    wait_for("press it again")
    time.sleep(0.3)
    assert "REC " not in out.getvalue()  # the early key started nothing
    keys.push("space")
    wait_for("REC ")
    keys.push("s")
    thread.join(10)
    assert [e.label for e in list_episodes(dataset)] == ["success"]
