"""`vipflow rewards` end to end on real files: mp4, frame folders, rosbag2 episodes."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
from reward_sequences import approaching, write_episode, write_frame_folder, write_mp4

from vipflow.cli.main import main

SMALL = ["--encoder", "vip", "--arch", "convnet-small", "--random-init"]


def test_mp4_writes_csv_json_png(tmp_path, capsys):
    frames = approaching(30)
    video = write_mp4(tmp_path / "reach.mp4", frames)
    out = tmp_path / "out"
    assert main(["rewards", str(video), *SMALL, "--out", str(out)]) == 0
    with open(out / "reach.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 30
    assert list(rows[0]) == ["frame", "time_s", "value_last_frame", "reward_last_frame"]
    assert rows[0]["reward_last_frame"] == "" and float(rows[1]["time_s"]) == pytest.approx(0.04)
    doc = json.loads((out / "reach.json").read_text())
    assert doc["frames"] == 30 and doc["encoder"]["name"] == "vip" and doc["kind"] == "video"
    m = doc["metrics"]["last_frame"]
    assert m["voc"] > 0.95 and m["bump_rate"] < 0.1  # decoded mp4 frames still approach the goal
    assert len(doc["rewards"]["last_frame"]) == 29
    png = cv2.imread(str(out / "reach.png"))
    assert png is not None and png.shape[0] > 300
    summary = json.loads((out / "summary.json").read_text())
    assert summary["goals"]["last_frame"]["mean_voc"] == pytest.approx(m["voc"])
    assert "reach: 30 frames" in capsys.readouterr().out


def test_frame_folder_with_goal_image(tmp_path):
    frames = approaching(12, seed=3)
    folder = write_frame_folder(tmp_path / "frames", frames)
    goal = tmp_path / "goal.png"
    cv2.imwrite(str(goal), cv2.cvtColor(frames[-1], cv2.COLOR_RGB2BGR))
    out = tmp_path / "out"
    assert main(["rewards", str(folder), *SMALL, "--goal-image", str(goal), "--out", str(out)]) == 0
    doc = json.loads((out / "frames.json").read_text())
    assert doc["kind"] == "frames" and doc["goals"]["image"]["paths"] == [str(goal)]
    assert doc["metrics"]["image"]["voc"] > 0.99  # PNG is lossless and frames sort naturally (2 < 10)
    assert doc["values"]["image"][-1] == pytest.approx(0.0, abs=1e-6)


def test_episodes_with_labels_give_auroc(tmp_path):
    success = write_episode(tmp_path / "data" / "ep_success", approaching(10, seed=0), "success")
    # the failure stops half-way: its final frame is still far from the goal
    failure = write_episode(tmp_path / "data" / "ep_failure", approaching(20, seed=0)[:10], "failure")
    out = tmp_path / "out"
    args = ["rewards", str(success), str(failure), *SMALL, "--goal-episode", str(success), "--out", str(out)]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inputs"]["ep_success"]["label"] == "success"
    assert summary["goals"]["episodes"]["auroc_final_value"] == 1.0
    doc = json.loads((out / "ep_failure.json").read_text())
    assert doc["kind"] == "episode" and doc["frames"] == 10 and doc["fps"] == 25.0


@pytest.mark.slow
def test_liv_image_and_text_goals_overlaid(tmp_path):
    frames = approaching(4, h=64, w=64)
    video = write_mp4(tmp_path / "short.mp4", frames)
    goal = tmp_path / "goal.png"
    cv2.imwrite(str(goal), cv2.cvtColor(frames[-1], cv2.COLOR_RGB2BGR))
    out = tmp_path / "out"
    args = ["rewards", str(video), "--encoder", "liv", "--random-init", "--goal-image", str(goal),
            "--goal-text", "reach the goal", "--out", str(out)]
    assert main(args) == 0
    doc = json.loads((out / "short.json").read_text())
    assert set(doc["values"]) == {"image", "text"} and doc["similarity"] == "cosine" and doc["gamma"] == 0.98
    assert max(abs(x) for x in doc["values"]["text"]) <= 1 / 0.02 + 1e-3
    assert (out / "short.png").stat().st_size > 10_000


def test_bad_path_is_a_clear_error(tmp_path, capsys):
    assert main(["rewards", str(tmp_path / "missing.mp4"), *SMALL]) == 2
    assert "missing.mp4 does not exist" in capsys.readouterr().err


def test_unreadable_video_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + np.random.default_rng(0).bytes(2000))
    assert main(["rewards", str(bad), *SMALL, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "broken.mp4" in err and "decodable" in err
    assert not (tmp_path / "o").exists()  # nothing written for a failed input


def test_empty_folder_and_label_count(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["rewards", str(tmp_path / "empty"), *SMALL]) == 2
    assert "no image files" in capsys.readouterr().err
    video = write_mp4(tmp_path / "a.mp4", approaching(3))
    assert main(["rewards", str(video), *SMALL, "--set-labels", "success", "failure"]) == 2
    assert "--set-labels has 2 entries for 1 inputs" in capsys.readouterr().err


def test_text_goal_with_image_encoder_is_a_clear_error(tmp_path, capsys):
    video = write_mp4(tmp_path / "a.mp4", approaching(3))
    assert main(["rewards", str(video), *SMALL, "--goal-text", "open", "--out", str(tmp_path / "o")]) == 2
    assert "no text tower" in capsys.readouterr().err


def test_goal_frames_and_labels_in_the_summary_plot(tmp_path):
    success = write_episode(tmp_path / "data" / "ep_success", approaching(10, seed=0), "success")
    failure = write_episode(tmp_path / "data" / "ep_failure", approaching(20, seed=0)[:10], "failure")
    out = tmp_path / "out"
    args = ["rewards", str(success), str(failure), *SMALL, "--goal-episode", str(success),
            "--goal-last-k", "2", "--out", str(out)]
    assert main(args) == 0
    # the goal is the mean of the success episode's last two frames: those are its goal frames
    assert json.loads((out / "ep_success.json").read_text())["goal_frames"] == {"episodes": [8, 9]}
    assert json.loads((out / "ep_failure.json").read_text())["goal_frames"] == {"episodes": []}
    png = cv2.imread(str(out / "summary.png"))
    assert png is not None and png.shape[0] > 300
