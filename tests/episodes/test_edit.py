"""Review and edit: relabel, delete/restore (undo), validate with named errors, sheet, mp4, CLI."""

from __future__ import annotations

import argparse
import hashlib
import json

import cv2
import numpy as np
import pytest
import yaml
from episode_synth import write_foreign, write_synthetic

from vipflow.cli import episodes as episodes_cli
from vipflow.episodes import (
    ImageEncodingError,
    IncompleteEpisodeError,
    MissingTopicError,
    list_episodes,
    read_episode,
)
from vipflow.episodes.edit import delete_episode, relabel, restore_episode, trash_entries
from vipflow.episodes.validate import validate_dataset


def cli(argv: list[str]) -> int:
    """Our subcommand through argparse exactly as `vipflow` registers it (without importing the
    other subcommands, whose imports take seconds)."""
    parser = argparse.ArgumentParser(prog="vipflow")
    episodes_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def digest(path):
    return hashlib.sha256(next(path.glob("*.mcap")).read_bytes()).hexdigest()


def test_relabel_touches_metadata_only(dataset):
    ep_path = write_synthetic(dataset / "episode_0000", label="success", seconds=0.5)
    before = digest(ep_path)
    relabel(ep_path, "failure", tags_add=("bumped",), notes="gripper slipped")
    ep = read_episode(ep_path)
    assert (ep.meta.label, ep.meta.tags, ep.meta.notes) == ("failure", ["bumped"], "gripper slipped")
    assert json.loads((ep_path / "episode.json").read_text())["meta"]["label"] == "failure"
    assert digest(ep_path) == before
    assert len(ep.on_grid()) > 5  # metadata.yaml rewritten by us still opens with rosbags
    info = yaml.safe_load((ep_path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == 8 and all(  # still the Humble-readable form
        isinstance(t["topic_metadata"]["offered_qos_profiles"], str)
        for t in info["topics_with_message_count"]
    )
    with pytest.raises(ValueError, match="label must be one of"):
        relabel(ep_path, "great")
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert manifest["episodes"][0]["label"] == "failure"


def test_delete_and_restore_is_lossless(dataset):
    ep_path = write_synthetic(dataset / "episode_0000", seconds=0.5)
    write_synthetic(dataset / "episode_0001", seconds=0.5)
    before = digest(ep_path)
    dest = delete_episode(ep_path)
    assert [s.name for s in list_episodes(dataset)] == ["episode_0001"]
    assert trash_entries(dataset) == [dest]
    back = restore_episode(dataset, "episode_0000")
    assert back == ep_path and digest(back) == before
    assert [s.name for s in list_episodes(dataset)] == ["episode_0000", "episode_0001"]


def test_mark_complete_after_review(dataset):
    ep_path = write_synthetic(dataset / "episode_0000", seconds=0.5)
    from vipflow.episodes.edit import update_meta

    update_meta(ep_path, incomplete=True)
    with pytest.raises(IncompleteEpisodeError):
        read_episode(ep_path)
    relabel(ep_path, mark_complete=True)
    assert read_episode(ep_path).meta.extra["reviewed_incomplete"]


def test_validate_names_each_problem(dataset):
    write_synthetic(dataset / "episode_0000", seconds=1.0)
    bad = write_synthetic(dataset / "episode_0001", seconds=1.0)
    mcap = next(bad.glob("*.mcap"))
    mcap.write_bytes(mcap.read_bytes()[:-100])
    write_foreign(dataset / "episode_0002", with_camera=False)
    write_foreign(dataset / "episode_0003", encoding="mono8")
    (dataset / ".partial" / "episode_0004").mkdir(parents=True)
    checks = {c.name: c for c in validate_dataset(dataset)}
    assert checks["episode_0000"].status == "ok"
    assert (checks["episode_0001"].status, checks["episode_0001"].error) == ("fail", "TruncatedBagError")
    assert checks["episode_0002"].error == "MissingTopicError"
    assert checks["episode_0003"].error == "ImageEncodingError" and "mono8" in checks["episode_0003"].message
    assert checks["episode_0004"].error == "TruncatedBagError"
    # the loader path raises the same named errors
    with pytest.raises(MissingTopicError):
        read_episode(dataset / "episode_0002").on_grid()
    with pytest.raises(ImageEncodingError):
        read_episode(dataset / "episode_0003").on_grid()


def test_validate_flags_cadence_out_of_tolerance(dataset):
    # camera claims 30 fps but delivered 12: the rate check fails
    from vipflow.episodes import EpisodeMeta

    meta = EpisodeMeta(task="t", camera={"fps": 30.0}, robot={"state_rate_hz": 100.0})
    write_synthetic(dataset / "episode_0000", cam_hz=12.0, meta=meta)
    (check,) = validate_dataset(dataset)
    assert (
        check.status == "fail" and check.error == "CadenceOutOfTolerance" and "camera: rate" in check.message
    )


def test_bgr8_is_converted(dataset):
    ep = read_episode(write_foreign(dataset / "ep", encoding="bgr8"))
    g = ep.on_grid()
    assert g.frames.shape[1:] == (8, 8, 3)


def test_sheet_mp4_and_cli(dataset, tmp_path, capsys):
    ep_path = write_synthetic(dataset / "episode_0000", seconds=1.0, label="success")
    write_synthetic(dataset / "episode_0001", seconds=1.0, label="failure")
    sheet, video = tmp_path / "review" / "episode_0000.png", tmp_path / "review" / "episode_0000.mp4"
    assert cli(["episodes", "show", str(ep_path), "--sheet", "--mp4", "--out", str(tmp_path / "review")]) == 0
    out = capsys.readouterr().out
    assert "cadence   ok" in out and "/camera/color/image_raw" in out
    png = cv2.imread(str(sheet))
    assert png is not None and png.shape[0] > 200 and png.shape[1] > 600
    cap = cv2.VideoCapture(str(video))
    frames, fps = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), cap.get(cv2.CAP_PROP_FPS)
    ok, first = cap.read()
    cap.release()
    assert ok and frames == 30 and abs(fps - 30) < 1
    assert np.abs(first[:, 5:, 0].astype(int) - np.arange(5, 32)).mean() < 8  # blue = column ramp (BGR)
    assert cli(["episodes", "list", str(dataset)]) == 0
    out = capsys.readouterr().out
    assert "episode_0000" in out and "2 usable: 1 success, 1 failure" in out
    assert cli(["episodes", "relabel", str(ep_path), "failure", "--add-tag", "redo"]) == 0
    assert cli(["episodes", "delete", str(ep_path)]) == 0
    assert cli(["episodes", "restore", str(dataset), "episode_0000"]) == 0
    assert read_episode(ep_path).meta.tags == ["redo"]
    assert cli(["episodes", "validate", str(dataset)]) == 0
    mcap = next(ep_path.glob("*.mcap"))
    mcap.write_bytes(mcap.read_bytes()[:-50])
    assert cli(["episodes", "validate", str(dataset)]) == 1
    assert "TruncatedBagError" in capsys.readouterr().out
