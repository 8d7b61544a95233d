"""Data pipeline: sampling distributions, shared crops, sources on real files, the frame cache,
and determinism across workers and ranks."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vipflow.encoder_training import cache as cache_module
from vipflow.encoder_training.cache import FrameCache
from vipflow.encoder_training.dataset import SampleSpec, StepSampler, SubTrajectoryDataset, make_loader
from vipflow.encoder_training.errors import TrainingDataError
from vipflow.encoder_training.sampling import liv_indices, random_resized_crop_box, vip_indices
from vipflow.encoder_training.sources import array_sources, discover_sources, load_manifest
from vipflow.episodes import EpisodeMeta, EpisodeWriter
from vipflow.hardware import Frame, RobotState


def counting_video(n: int, h: int = 20, w: int = 30) -> np.ndarray:
    """Frame i is filled with value 10*i (so a decoded frame tells its index)."""
    return np.stack([np.full((h, w, 3), 10 * i, np.uint8) for i in range(n)])


# -- sampling -------------------------------------------------------------------------------------


def test_vip_indices_cover_exactly_the_official_support() -> None:
    rng = np.random.default_rng(0)
    length = 6
    seen = {tuple(vip_indices(length, rng)) for _ in range(20_000)}
    expected = {
        (s, e, k, k + 1) for s in range(length - 2) for e in range(s + 1, length) for k in range(s, e)
    }
    assert seen == expected


def test_liv_indices_whole_video_and_subtrajectory() -> None:
    rng = np.random.default_rng(1)
    whole = np.array([liv_indices(10, rng) for _ in range(2000)])
    assert (whole[:, 0] == 0).all() and (whole[:, 1] == 9).all() and (whole[:, 4] == 9).all()
    assert set(whole[:, 2]) == set(range(9)) and (whole[:, 3] == whole[:, 2] + 1).all()
    sub = np.array([liv_indices(40, rng, whole_video=False) for _ in range(2000)])
    assert sub[:, 4].min() == int(0.95 * 40) - 1 and sub[:, 4].max() == 39
    assert (sub[:, 0] < sub[:, 1]).all() and (sub[:, 2] >= sub[:, 0]).all() and (sub[:, 3] <= sub[:, 1]).all()


def test_short_video_is_a_named_error() -> None:
    with pytest.raises(TrainingDataError, match="at least 3"):
        vip_indices(2, np.random.default_rng(0))


def test_crop_boxes_stay_inside_the_frame() -> None:
    rng = np.random.default_rng(2)
    for _ in range(500):
        b = random_resized_crop_box(40, 90, rng)
        assert b.top >= 0 and b.top + b.height <= 40 and b.left >= 0 and b.left + b.width <= 90
        assert b.height * b.width >= 0.2 * 40 * 90 * 0.95 or b.height == 40


def test_rctraj_shares_one_crop_across_the_subtrajectory_and_rc_does_not() -> None:
    rng = np.random.default_rng(3)
    still = np.repeat(rng.integers(0, 256, (1, 48, 64, 3), dtype=np.uint8), 12, axis=0)  # a static scene
    cache = FrameCache.in_memory(array_sources([still]), 48)
    shared = SubTrajectoryDataset(cache, SampleSpec("vip", 32, "rctraj", seed=1))
    separate = SubTrajectoryDataset(cache, SampleSpec("vip", 32, "rc", seed=1))
    for n in range(5):
        frames = shared[n]["frames"]
        assert frames.shape == (4, 3, 32, 32) and frames.dtype == torch.uint8
        assert all(torch.equal(frames[0], f) for f in frames[1:])
    assert any(not torch.equal(separate[n]["frames"][0], separate[n]["frames"][1]) for n in range(5))


def test_samples_are_a_function_of_seed_and_number() -> None:
    cache = FrameCache.in_memory(array_sources([counting_video(9), counting_video(7)]), 20)
    a = SubTrajectoryDataset(cache, SampleSpec("vip", 16, seed=4))
    b = SubTrajectoryDataset(cache, SampleSpec("vip", 16, seed=4))
    c = SubTrajectoryDataset(cache, SampleSpec("vip", 16, seed=5))
    assert all(torch.equal(a[n]["frames"], b[n]["frames"]) for n in range(20))
    assert not all(torch.equal(a[n]["frames"], c[n]["frames"]) for n in range(20))
    # the sampled frames obey VIP's index rule: start < goal, start <= k < goal (frame i has value 10*i)
    for n in range(50):
        idx = (
            SubTrajectoryDataset(cache, SampleSpec("vip", 16, "none"))[n]["frames"][:, 0, 8, 8] // 10
        ).tolist()
        start, goal, k, k1 = idx
        assert start < goal and start <= k < goal and k1 == k + 1


def test_loader_batches_identical_with_and_without_workers_and_across_ranks() -> None:
    cache = FrameCache.in_memory(array_sources([counting_video(9), counting_video(12)]), 20)
    ds = SubTrajectoryDataset(cache, SampleSpec("vip", 16, seed=7))
    plain = [b["frames"] for b in make_loader(ds, StepSampler(2, 5, 4), num_workers=0, pin_memory=False)]
    workers = [b["frames"] for b in make_loader(ds, StepSampler(2, 5, 4), num_workers=2, pin_memory=False)]
    assert len(plain) == 3 and all(torch.equal(x, y) for x, y in zip(plain, workers, strict=True))
    ranks = [
        [b["frames"] for b in make_loader(ds, StepSampler(2, 5, 4, rank=r, world_size=2), 0, False)]
        for r in (0, 1)
    ]
    for step in range(3):
        assert torch.equal(torch.cat([ranks[0][step], ranks[1][step]]), plain[step])


# -- sources ----------------------------------------------------------------------------------------


def write_frames(folder: Path, video: np.ndarray, name=lambda i: f"{i}.png") -> None:
    folder.mkdir(parents=True)
    for i, frame in enumerate(video):
        cv2.imwrite(str(folder / name(i)), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))


def test_frame_folder_is_ordered_by_number(tmp_path) -> None:
    write_frames(tmp_path / "clip", counting_video(12))  # 0.png ... 11.png: "10" sorts after "9"
    (source,) = discover_sources(tmp_path / "clip")
    frames = np.stack(list(source.frames()))
    assert frames[:, 0, 0, 0].tolist() == [10 * i for i in range(12)]


def test_mp4_source(tmp_path) -> None:
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (32, 24))
    for frame in counting_video(8, 24, 32):
        writer.write(frame)
    writer.release()
    (source,) = discover_sources(tmp_path)
    frames = np.stack(list(source.frames()))
    assert frames.shape == (8, 24, 32, 3)
    values = frames[:, 5, 5, 0].astype(int)
    assert (
        np.abs(values - [10 * i for i in range(8)]).max() <= 6 and (np.diff(values) > 5).all()
    )  # lossy codec


def test_ego4d_manifest(tmp_path) -> None:
    write_frames(tmp_path / "v0", counting_video(5), name=lambda i: f"{i:06d}.jpg")
    with (tmp_path / "manifest.csv").open("w", newline="") as f:
        csv.writer(f).writerows([["path", "len"], ["v0/", 5]])
    (source,) = discover_sources(tmp_path)
    assert [p.name for p in source.frame_files] == [f"{i:06d}.jpg" for i in range(5)]
    assert len(list(source.frames())) == 5


def test_liv_manifest_with_text(tmp_path) -> None:
    write_frames(tmp_path / "demo0", counting_video(4))
    with (tmp_path / "manifest.csv").open("w", newline="") as f:
        csv.writer(f).writerows(
            [["directory", "text", "num_frames"], [str(tmp_path / "demo0"), "open the drawer", 4]]
        )
    (source,) = load_manifest(tmp_path / "manifest.csv")
    assert source.text == "open the drawer"
    assert [p.name for p in source.frame_files] == ["0.png", "1.png", "2.png", "3.png"]


def test_manifest_errors_are_named(tmp_path) -> None:
    (tmp_path / "manifest.csv").write_text("video,frames\nx,3\n")
    with pytest.raises(TrainingDataError, match="expected Ego4D-style"):
        discover_sources(tmp_path)
    (tmp_path / "manifest.csv").write_text("path,len\nmissing/,3\n")
    (source,) = discover_sources(tmp_path)
    with pytest.raises(TrainingDataError, match=r"000000\.jpg does not exist"):
        FrameCache.in_memory([source], 16)
    with pytest.raises(TrainingDataError, match="does not exist"):
        discover_sources(tmp_path / "nowhere")


def write_episode(path: Path, label: str, n: int = 8) -> None:
    meta = EpisodeMeta(task="close drawer", goal_text="close the drawer", camera={"fps": 25.0})
    with EpisodeWriter(path, meta, time_offset_ns=0) as w:
        t0 = 1_000_000_000
        for i in range(n):
            t = t0 + i * 40_000_000
            w.write_state(
                RobotState(t, np.zeros(7), np.zeros(7), np.array([0.4, 0, 0.3, 0, 0, 0, 1.0]), 0.08)
            )
            w.write_frame(Frame(t + 1000, counting_video(1, 24, 32)[0] + 10 * i))
        w.close(label=label)


def test_episode_dataset_uses_successful_episodes_with_their_goal_text(tmp_path) -> None:
    write_episode(tmp_path / "episode_0000", "success")
    write_episode(tmp_path / "episode_0001", "failure")
    sources = discover_sources(tmp_path)
    assert [Path(s.name).name for s in sources] == ["episode_0000"]
    assert sources[0].kind == "episode" and sources[0].text == "close the drawer"
    frames = np.stack(list(sources[0].frames()))
    assert frames.shape[1:] == (24, 32, 3) and len(frames) >= 7
    assert len(discover_sources(tmp_path, episode_labels=None)) == 2


# -- frame cache ------------------------------------------------------------------------------------


def test_cache_decodes_once_reuses_and_rebuilds_changed_sources(tmp_path, monkeypatch) -> None:
    write_frames(tmp_path / "data" / "a", counting_video(6, 40, 60))
    write_frames(tmp_path / "data" / "b", counting_video(5, 40, 60))
    sources = discover_sources(tmp_path / "data")
    cache = FrameCache.build(sources, tmp_path / "cache", 20, progress=False)
    video = cache.video(0)
    assert isinstance(video, np.memmap) and video.dtype == np.uint8 and video.shape == (6, 20, 30, 3)
    assert cache.lengths() == [6, 5] and video[3, 0, 0, 0] == 30

    calls = []
    real = cache_module.decode_resized
    monkeypatch.setattr(cache_module, "decode_resized", lambda s, n: calls.append(s.name) or real(s, n))
    FrameCache.build(sources, tmp_path / "cache", 20, progress=False)
    assert calls == []  # everything reused
    write_frames(tmp_path / "data" / "b2", counting_video(7, 40, 60))
    (tmp_path / "data" / "b" / "4.png").unlink()
    FrameCache.build(discover_sources(tmp_path / "data"), tmp_path / "cache", 20, progress=False)
    assert sorted(Path(c).name for c in calls) == ["b", "b2"]  # changed and new, not a


def test_truncated_cache_file_is_a_named_error(tmp_path) -> None:
    cache = FrameCache.build(array_sources([counting_video(5)]), tmp_path, 20, progress=False)
    path = cache.files[0]
    path.write_bytes(path.read_bytes()[:-100])
    cache.arrays[0] = None
    with pytest.raises(TrainingDataError, match="delete it"):
        cache.video(0)
