"""Sources: replay keeps the original timing, RealSense fails clearly without pyrealsense2 and
converts host timestamps, terminal keys work on a real pty."""

from __future__ import annotations

import io
import os
import sys
import time
import types

import cv2
import numpy as np
import pytest
from episode_synth import write_synthetic

from vipflow.episodes import list_episodes, read_episode
from vipflow.hardware import Camera, CameraTimeout, HardwareError, Robot, RobotError, RobotTarget
from vipflow.hardware.realsense import RealSenseCamera
from vipflow.hardware.replay import ReplayFinished, replay_episode, replay_video
from vipflow.record.keys import ScriptedKeys, TerminalKeys
from vipflow.record.session import RecorderSession, SessionConfig


def test_replay_episode_original_timing(dataset):
    src = write_synthetic(dataset / "src", seconds=0.6, cam_hz=20.0, state_hz=100.0)
    cam, robot = replay_episode(src)
    assert isinstance(cam, Camera) and isinstance(robot, Robot)
    cam.start()
    robot.start()
    frames = []
    while True:
        try:
            frames.append(cam.read(timeout_s=1.0))
        except ReplayFinished:
            break
    gaps = np.diff([f.stamp_ns for f in frames]) / 1e6
    assert len(frames) == 12 and np.allclose(gaps, 50.0, atol=0.01)  # stamps keep the recorded spacing
    # ... and frames were released at that pace (scheduler jitter aside)
    assert [f.rgb[0, 0, 0] for f in frames] == list(range(12))
    state = robot.state()
    assert state.stamp_ns <= time.monotonic_ns()
    with pytest.raises(RobotError, match="cannot be commanded"):
        robot.send(RobotTarget(gripper_width=0.0, joint_pos=np.zeros(7)))


def test_slow_reader_gets_newest_frame(dataset):
    src = write_synthetic(dataset / "src", seconds=0.5, cam_hz=30.0)
    cam, _ = replay_episode(src)
    cam.start()
    cam.read()
    time.sleep(0.2)  # six frame periods
    f = cam.read()
    assert f.rgb[0, 0, 0] >= 5 and cam.frames_skipped >= 4


def test_replay_video(tmp_path):
    path = tmp_path / "clip.mp4"
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (32, 24))
    for i in range(10):
        vw.write(np.full((24, 32, 3), i * 20, np.uint8))
    vw.release()
    cam = replay_video(path)
    cam.start()
    t0 = time.monotonic()
    frames = [cam.read() for _ in range(10)]
    with pytest.raises(ReplayFinished):
        cam.read()
    assert np.allclose(np.diff([f.stamp_ns for f in frames]) / 1e6, 40.0, atol=0.5)
    assert time.monotonic() - t0 > 0.3  # 9 gaps of 40 ms were waited out
    assert frames[3].rgb.shape == (24, 32, 3)


def _record_replay(dataset, src, *, episode_time_s, state_rate_hz, keys):
    """Record one episode from a replay of ``src`` with scripted keys; its summary."""
    cam, robot = replay_episode(src)
    cfg = SessionConfig(
        dataset=dataset,
        task="close drawer",
        num_episodes=1,
        episode_time_s=episode_time_s,
        reset_time_s=0.0,
        state_rate_hz=state_rate_hz,
        source="replay",
    )
    RecorderSession(cfg, cam, robot, ScriptedKeys(keys), out=io.StringIO()).run()
    (summary,) = list_episodes(dataset)
    return summary


def test_recorder_from_replay_reproduces_the_episode(dataset, tmp_path):
    src = write_synthetic(tmp_path / "src", seconds=1.5, cam_hz=30.0, state_hz=100.0)
    keys = [(0.0, "space"), (1.3, "s")]
    s = _record_replay(dataset, src, episode_time_s=1.0, state_rate_hz=100.0, keys=keys)
    assert s.usable and 26 <= s.counts["camera"] <= 31
    g = read_episode(s.path).on_grid()
    src_gripper = read_episode(src).states().gripper
    # recorded pixels are replayed pixels: frame indices increase by ~1.2 per 25 Hz tick
    idx = g.frames[:, 0, 0, 0].astype(int)
    assert np.all(np.diff(idx) >= 0) and 1.0 < (idx[-1] - idx[0]) / (len(idx) - 1) < 1.4
    # every recorded state is one of the replayed states
    assert np.isclose(g.gripper[:, None], src_gripper[None, :], rtol=0, atol=1e-12).any(axis=1).all()


def test_realsense_missing_library_is_clear(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyrealsense2", None)  # import fails
    with pytest.raises(HardwareError, match=r"pip install 'vipflow\[realsense\]'"):
        RealSenseCamera().start()


class _FakeRS(types.SimpleNamespace):
    """A pyrealsense2 stand-in with the library's shape: it delivers a frame every 1/fps with a
    host (global time) timestamp in UNIX ms, and times out when told to stall."""

    def __init__(self, fps=30, stall=False):
        self.fps, self.stall, self.n = fps, stall, 0
        rs = self

        class Frame:
            def __init__(self, n, ts_ms):
                self.n, self.ts = n, ts_ms

            def get_frame_number(self):
                return self.n

            def get_data(self):
                return np.full((48, 64, 3), self.n % 256, np.uint8)

            def get_timestamp(self):
                return self.ts

            def get_frame_timestamp_domain(self):
                return "global"

        class Frames:
            def __init__(self, f):
                self.f = f

            def get_color_frame(self):
                return self.f

        class Pipeline:
            def start(self, cfg):
                return types.SimpleNamespace(
                    get_device=lambda: types.SimpleNamespace(get_info=lambda k: f"fake-{k}")
                )

            def try_wait_for_frames(self, timeout_ms):
                if rs.stall:
                    time.sleep(timeout_ms / 1000)
                    return False, None
                time.sleep(1 / rs.fps)
                rs.n += 2 if rs.n == 20 else 1  # the device drops frame 21
                return True, Frames(Frame(rs.n, time.time() * 1000 - 5.0))  # captured 5 ms ago

            def stop(self):
                pass

        super().__init__(
            pipeline=Pipeline,
            config=lambda: types.SimpleNamespace(enable_stream=lambda *a: None, enable_device=lambda s: None),
            stream=types.SimpleNamespace(color="color"),
            format=types.SimpleNamespace(rgb8="rgb8"),
            timestamp_domain=types.SimpleNamespace(global_time="global", system_time="system"),
            camera_info=types.SimpleNamespace(name="name", serial_number="serial", firmware_version="fw"),
        )


def test_realsense_timestamps_and_timeouts(monkeypatch):
    fake = _FakeRS()
    monkeypatch.setitem(sys.modules, "pyrealsense2", fake)
    cam = RealSenseCamera(64, 48, 30, warmup_frames=3)
    cam.start()
    before = time.monotonic_ns()
    frames = [cam.read() for _ in range(20)]
    assert all(f.rgb.shape == (48, 64, 3) for f in frames)
    age_ms = (before - frames[0].stamp_ns) / 1e6
    assert -40 < age_ms < 20  # host UNIX-ms stamp mapped onto the monotonic clock
    assert cam.frames_skipped == 1 and cam.describe()["serial"] == "fake-serial"
    fake.stall = True
    with pytest.raises(CameraTimeout, match="no frame within"):
        cam.read(timeout_s=0.05)
    cam.stop()


def test_terminal_keys_on_a_pty():
    master, slave = os.openpty()
    try:
        with TerminalKeys(slave) as keys:
            assert keys.get(0.01) is None
            for data, name in (
                (b"s", "s"),
                (b" ", "space"),
                (b"\x1b[D", "left"),
                (b"Q", "q"),
                (b"\r", "enter"),
            ):
                os.write(master, data)
                assert keys.get(1.0) == name
    finally:
        os.close(master)
        os.close(slave)


def test_terminal_keys_need_a_tty(tmp_path):
    with open(tmp_path / "f", "w+") as f, pytest.raises(OSError, match="interactive terminal"):
        TerminalKeys(f).__enter__()


def test_buffered_1khz_state_stream_is_recorded_without_gaps(dataset, tmp_path):
    """A robot that buffers its stream (drain_states) loses nothing at 1 kHz, even when the
    recorder's threads are delayed by the GIL or a busy CPU."""
    src = write_synthetic(tmp_path / "src", seconds=1.6, cam_hz=30.0, state_hz=1000.0)
    keys = [(0.05, "space"), (1.0, "s")]
    s = _record_replay(dataset, src, episode_time_s=5.0, state_rate_hz=1000.0, keys=keys)
    t = read_episode(s.path).stamps()["joint_states"]
    assert len(t) > 800 and np.all(np.diff(t) == 1_000_000)
    assert s.cadence.streams["joint_states"].queue_drops == 0


@pytest.mark.slow
def test_recorder_with_the_simulator(dataset):
    """The kitchen simulator's camera and robot are ordinary sources: a 'hand' thread advances the
    physics in real time (as a person moving the arm would) and the recorder records it."""
    sim_pkg = pytest.importorskip("vipflow.sim")  # picks a headless GL backend before mujoco loads
    import threading

    sim = sim_pkg.KitchenSim("slide_cabinet", seed=0, image_size=32)
    stop = threading.Event()

    def hand() -> None:
        clock = sim.clock()
        while not stop.is_set():
            clock.sleep_until(clock.now_ns() + 40_000_000)  # one 40 ms physics period
            time.sleep(0.04)

    threading.Thread(target=hand, daemon=True).start()
    try:
        cfg = SessionConfig(
            dataset=dataset,
            task="slide_cabinet",
            num_episodes=1,
            episode_time_s=5.0,
            reset_time_s=0.0,
            state_rate_hz=50.0,
            source="sim",
        )
        keys = ScriptedKeys([(0.1, "space"), (1.2, "s")])
        RecorderSession(cfg, sim.camera(), sim.robot(), keys, out=io.StringIO()).run()
    finally:
        stop.set()
        sim.close()
    (s,) = list_episodes(dataset)
    g = read_episode(s.path).on_grid()
    assert s.usable and g.frames.shape[1:] == (32, 32, 3) and len(g) >= 10
    assert np.all(np.diff(g.t_ns) == 40_000_000) and np.all(g.frame_t_ns <= g.t_ns)
