"""The camera node's work without rclpy: a replayed video published as Image CDR, in real time."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from demo_recorder.camera_source import CameraPump, open_camera
from demo_recorder.params import CameraNodeParams
from vipflow.episodes import messages as m
from vipflow.hardware import HardwareError
from vipflow.ros.topic_hardware import decode_rgb


def write_video(path, frames: int = 12, fps: float = 25.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (32, 24))
    for i in range(frames):
        writer.write(np.full((24, 32, 3), 10 * i, np.uint8))
    writer.release()
    return path


def test_replay_publishes_rgb8_images_stamped_in_ros_time_at_the_video_rate(tmp_path):
    video = write_video(tmp_path / "clip.mp4")
    params = CameraNodeParams(backend="replay", replay_path=str(video), replay_loop=False)
    published, errors = [], []
    pump = CameraPump(params, published.append, errors.append)
    t0 = time.time_ns()
    pump.start()
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and not errors:
        time.sleep(0.05)
    pump.stop()
    assert errors == ["replay finished"]
    # like a live camera, a reader that falls behind (a loaded CPU) gets the newest frame
    assert len(published) == pump.published == 12 - pump.camera.frames_skipped >= 6
    msgs = [m.deserialize(raw, m.MSG_IMAGE) for raw in published]
    assert {(x.encoding, x.height, x.width) for x in msgs} == {("rgb8", 24, 32)}
    stamps = np.array([m.stamp_of(x) for x in msgs])
    assert stamps[0] >= t0 - 50_000_000 and np.all(np.diff(stamps) > 0)
    assert np.diff(stamps).min() > 30e6  # never faster than the video's 25 fps: it plays in real time
    assert stamps[-1] - stamps[0] == pytest.approx(11 * 40e6, rel=0.25)  # 12 frames span 0.44 s
    grey = [int(decode_rgb(x)[0, 0, 0]) for x in msgs]
    assert grey == sorted(grey)  # frames in order (mp4 compression may shift values a little)


def test_replay_loops_when_asked(tmp_path):
    video = write_video(tmp_path / "clip.mp4", frames=3)
    published = []
    pump = CameraPump(CameraNodeParams(backend="replay", replay_path=str(video)), published.append, print)
    pump.start()
    time.sleep(0.5)
    pump.stop()
    assert len(published) > 3  # it started over after the third frame


def test_bad_sources_are_named(tmp_path):
    with pytest.raises(HardwareError, match=r"replay_path '/nowhere\.mp4' does not exist"):
        open_camera(CameraNodeParams(backend="replay", replay_path="/nowhere.mp4"))
    (tmp_path / "not_a_video.mp4").write_bytes(b"nope")
    errors = []
    pump = CameraPump(
        CameraNodeParams(backend="replay", replay_path=str(tmp_path / "not_a_video.mp4")),
        print,
        errors.append,
    )
    pump.start()
    time.sleep(0.3)
    pump.stop()
    assert len(errors) == 1 and errors[0].startswith("camera stopped: cannot open video")
