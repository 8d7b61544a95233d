"""The reward node's work without rclpy: goals (images, text, demos) and the live reward stream."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from vip_reward_node.reward_stream import RewardStream, RewardWorker
from vipflow.episodes import EpisodeMeta, EpisodeWriter
from vipflow.hardware import Frame, RobotState
from vipflow.policy.errors import EmptySelectionError, GoalError
from vipflow.policy.goals import goal_embedding
from vipflow.rewards import values as reward_values
from vipflow.ros.topic_hardware import TopicCamera, image_cdr
from vipflow.task_config import GoalSpec


def square(x: int, size: int = 64) -> np.ndarray:
    img = np.full((size, size, 3), 30, np.uint8)
    img[20:40, x : x + 16] = (230, 200, 40)
    return img


def test_image_goal_is_the_mean_embedding_of_the_goal_images(tmp_path, small_vip):
    paths = []
    for i, x in enumerate((30, 40)):
        p = tmp_path / f"goal{i}.png"
        cv2.imwrite(str(p), cv2.cvtColor(square(x), cv2.COLOR_RGB2BGR))
        paths.append(str(p))
    goal = goal_embedding(small_vip, GoalSpec(source="images", images=tuple(paths)))
    want = small_vip.embed_images(np.stack([square(30), square(40)])).mean(axis=0)
    np.testing.assert_allclose(goal, want, rtol=1e-4, atol=1e-5)


def test_goal_errors_name_what_is_missing(tmp_path, small_vip):
    with pytest.raises(GoalError, match="needs goal image files"):
        goal_embedding(small_vip, GoalSpec(source="images"))
    with pytest.raises(GoalError, match=r"nope\.png"):
        goal_embedding(small_vip, GoalSpec(source="images", images=(str(tmp_path / "nope.png"),)))
    with pytest.raises(GoalError, match="need a LIV encoder"):
        goal_embedding(small_vip, GoalSpec(source="text", text="close the drawer"))
    with pytest.raises(GoalError, match="needs the dataset directory"):
        goal_embedding(small_vip, GoalSpec(source="dataset"))


def _demo(path, label: str, xs: list[int]) -> None:
    with EpisodeWriter(path, EpisodeMeta(task="slide", label=label)) as w:
        for k, x in enumerate(xs):
            t = 1_000_000_000 + k * 40_000_000
            w.write_frame(Frame(t, square(x)))
            w.write_state(
                RobotState(t, np.zeros(7), np.zeros(7), np.array([0.4, 0, 0.3, 0, 0, 0, 1.0]), 0.04)
            )
        w.close(label=label)


def test_dataset_goal_averages_the_last_frames_of_successful_demos_only(tmp_path, small_vip):
    data = tmp_path / "data"
    _demo(data / "episode_0000", "success", [4, 10, 16, 30])
    _demo(data / "episode_0001", "success", [4, 12, 20, 40])
    _demo(data / "episode_0002", "failure", [4, 2, 1, 0])
    goal = goal_embedding(
        small_vip, GoalSpec(source="dataset", dataset=str(data)), cache_dir=str(tmp_path / "c")
    )
    want = small_vip.embed_images(np.stack([square(30), square(40)])).mean(axis=0)
    np.testing.assert_allclose(goal, want, rtol=1e-4, atol=1e-5)
    with pytest.raises(EmptySelectionError, match="no episode matches"):
        goal_embedding(small_vip, GoalSpec(source="dataset", dataset=str(data)), task="other")


def test_stream_values_and_rewards_follow_vip_eq_4(small_vip):
    stream = RewardStream(small_vip, gamma=0.98)
    first = stream.step(square(0), header_ns=7)
    assert first.value is None and first.reward is None and first.embedding.shape == (small_vip.embed_dim,)
    goal = small_vip.embed_images(square(40)[None])[0]
    stream.set_goal(goal, "images: goal.png")
    frames = [square(x) for x in (0, 10, 20, 30, 40)]
    samples = [stream.step(f) for f in frames]
    want = reward_values(small_vip.embed_images(np.stack(frames)), goal, "l2")
    np.testing.assert_allclose([s.value for s in samples], want, rtol=1e-4, atol=1e-5)
    assert samples[0].reward == 0.0  # first frame under this goal
    np.testing.assert_allclose([s.reward for s in samples[1:]], np.diff(want), rtol=1e-3, atol=1e-4)
    assert samples[-1].value == pytest.approx(0.0, abs=1e-4)  # at the goal the distance is zero
    stream.set_goal(goal * 2, "another goal")
    assert stream.step(square(40)).reward == 0.0  # a new goal restarts the reward
    with pytest.raises(ValueError, match="NaN"):
        stream.set_goal(np.full_like(goal, np.nan))
    stream.set_goal(np.zeros(3))
    with pytest.raises(ValueError, match="the goal was made with another encoder"):
        stream.step(square(0))


def test_worker_processes_the_newest_frames_and_reports_silence(small_vip):
    cam = TopicCamera("/camera")
    stream = RewardStream(small_vip)
    stream.set_goal(small_vip.embed_images(square(40)[None])[0])
    samples, errors = [], []
    got = threading.Event()

    def sink(sample):
        samples.append(sample)
        got.set()

    worker = RewardWorker(cam, stream, sink, errors.append, timeout_s=0.3)
    worker.start()
    try:
        for i, x in enumerate((0, 20, 40)):
            got.clear()
            cam.on_image(image_cdr(Frame(0, square(x)), 1_000 + i))
            assert got.wait(10.0)
        assert [s.header_ns for s in samples] == [1_000, 1_001, 1_002]  # the image stamps are carried
        assert samples[-1].value > samples[0].value
        time.sleep(0.8)  # silence longer than the timeout: reported once, not every 0.3 s
        assert len(errors) == 1 and "no new image on /camera" in errors[0]
    finally:
        worker.stop()
