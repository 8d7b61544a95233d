"""Acceptance: `vipflow rewards --sidecar` writes EPISODE.rewards.mcap beside each episode with one
reward per frame at the frame's bag time; the episode's files are byte-for-byte unchanged."""

from __future__ import annotations

import csv
import hashlib
import json

import cv2
import numpy as np
from mcap.reader import make_reader
from reward_sequences import approaching, write_episode

from vipflow.cli.main import main
from vipflow.live import topics as T

SMALL = ["--encoder", "vip", "--arch", "convnet-small", "--random-init"]


def checksums(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def frame_log_times(episode):
    times = []
    for mcap_file in sorted(episode.glob("*.mcap")):
        with open(mcap_file, "rb") as f:
            for _, channel, message in make_reader(f).iter_messages():
                if channel.topic == "/camera/color/image_raw":
                    times.append(message.log_time)
    return times


def test_sidecar_has_one_reward_per_frame_at_its_stamp(tmp_path, capsys):
    frames = approaching(12, seed=1)
    episode = write_episode(tmp_path / "data" / "episode_0000", frames, "success")
    goal = tmp_path / "goal.png"
    cv2.imwrite(str(goal), cv2.cvtColor(frames[-1], cv2.COLOR_RGB2BGR))
    before = checksums(episode)
    out = tmp_path / "out"
    args = ["rewards", str(episode), *SMALL, "--goal-image", str(goal), "--out", str(out), "--sidecar"]
    assert main(args) == 0
    assert checksums(episode) == before  # the original bag is never modified
    sidecar = tmp_path / "data" / "episode_0000.rewards.mcap"
    assert f"reward sidecar {sidecar}" in capsys.readouterr().out

    with open(sidecar, "rb") as f:
        reader = make_reader(f)
        messages = [(ch.topic, sch.name, sch.encoding, m.log_time,
                     json.loads(m.data) if ch.message_encoding == "json" else m.data)
                    for sch, ch, m in reader.iter_messages()]
        metadata = {m.name: m.metadata for m in reader.iter_metadata()}
    stamps = frame_log_times(episode)
    logs = [m for m in messages if m[0] == T.LOG]
    messages = [m for m in messages if m[0] != T.LOG]
    assert [m[3] for m in logs] == [stamps[0], stamps[-1]]  # episode start and end in the status log
    assert len(stamps) == len(frames) == len(messages)
    assert [m[3] for m in messages] == stamps
    assert {m[:3] for m in messages} == {(T.REWARD, "vipflow.Reward", "jsonschema")}
    with open(out / "episode_0000.csv") as f:
        csv_values = [float(row["value_image"]) for row in csv.DictReader(f)]
    body = [m[4] for m in messages]
    assert [b["frame"] for b in body] == list(range(len(frames)))
    np.testing.assert_allclose([b["value"] for b in body], csv_values, rtol=1e-5)
    np.testing.assert_allclose([b["reward"] for b in body][1:], np.diff(csv_values), rtol=1e-4, atol=1e-6)
    assert body[0]["reward"] == 0.0
    assert [b["timestamp"]["sec"] * 10**9 + b["timestamp"]["nsec"] for b in body] == stamps

    meta = metadata["vipflow.rewards"]
    encoder = json.loads(meta["encoder"])
    assert encoder["fingerprint"] and encoder["inference"].endswith("-" + meta["precision"])
    assert json.loads(meta["goals"])["image"]["paths"] == [str(goal)]
    assert meta["label"] == "success" and meta["similarity"] == "l2"


def test_sidecar_refuses_videos(tmp_path, capsys):
    from reward_sequences import write_mp4

    video = write_mp4(tmp_path / "v.mp4", approaching(5))
    assert main(["rewards", str(video), *SMALL, "--sidecar", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--sidecar writes beside episodes; not an episode" in err and str(video) in err
    assert not list(tmp_path.glob("*.rewards.mcap"))


def test_frame_stamps_are_the_episode_grid(tmp_path):
    from vipflow.recordings import open_recording

    episode = write_episode(tmp_path / "ep", approaching(6), "failure")
    rec = open_recording(episode)
    assert rec.frame_stamps_ns.tolist() == frame_log_times(episode)
