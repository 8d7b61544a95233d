"""Replay a recording as if it were live hardware, with its original timing.

Frames and states become available at their recorded offsets from the start of the recording
(scaled by ``speed``); like a real camera with a depth-1 queue, a reader that falls behind gets
the newest frame and the ones in between are skipped. The robot's ``state()`` is the latest
recorded state at or before now. Stamps are on the replay clock (default ``time.monotonic_ns``),
so a recorder sees exactly what it would see from a camera and a robot.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from vipflow.episodes.reader import read_episode
from vipflow.hardware.protocols import (
    CameraTimeout,
    Clock,
    Frame,
    HardwareError,
    MonotonicClock,
    RobotError,
    RobotState,
)
from vipflow.video import UnreadableVideoError, iter_video


class ReplayFinished(CameraTimeout):
    """The recording has no more frames (a live camera would time out here)."""


class ReplayTimeline:
    """Maps recording time to the replay clock; camera and robot of one recording share it, so
    they stay in their recorded relation whichever starts first."""

    def __init__(self, origin_ns: int, clock: Clock | None = None, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"replay speed must be positive, got {speed}")
        self.origin_ns = int(origin_ns)
        self.clock = clock or MonotonicClock()
        self.speed = speed
        self._t0: int | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._t0 is None:
                self._t0 = self.clock.now_ns()

    @property
    def started(self) -> bool:
        return self._t0 is not None

    def due_ns(self, source_ns: int) -> int:
        """Replay-clock time at which a sample recorded at ``source_ns`` becomes available."""
        assert self._t0 is not None, "timeline not started"
        return self._t0 + round((source_ns - self.origin_ns) / self.speed)

    def source_now(self) -> int:
        assert self._t0 is not None, "timeline not started"
        return self.origin_ns + round((self.clock.now_ns() - self._t0) * self.speed)


class ReplayCamera:
    """``Camera`` over an iterable of (recorded stamp ns, RGB frame), read lazily."""

    def __init__(
        self, frames: Iterable[tuple[int, np.ndarray]], timeline: ReplayTimeline, name: str = "replay"
    ):
        self._frames = frames
        self.timeline = timeline
        self.name = name
        self._it: Iterator[tuple[int, np.ndarray]] | None = None
        self._pushback: list[tuple[int, np.ndarray]] = []  # read ahead but not yet due (a stack)
        self.frames_delivered = 0
        self.frames_skipped = 0

    def describe(self) -> dict:
        return {"model": f"replay:{self.name}", "speed": self.timeline.speed}

    def start(self) -> None:
        self.timeline.start()
        self._it = iter(self._frames)
        self._pushback = []

    def _next(self) -> tuple[int, np.ndarray] | None:
        if self._pushback:
            return self._pushback.pop()
        assert self._it is not None
        return next(self._it, None)

    def read(self, timeout_s: float = 1.0) -> Frame:
        if self._it is None:
            raise HardwareError(f"replay camera {self.name}: read() before start()")
        clock = self.timeline.clock
        item = self._next()
        if item is None:
            raise ReplayFinished(f"replay camera {self.name}: the recording has no more frames")
        # Skip frames already overtaken by newer ones (a slow reader gets the newest).
        while True:
            nxt = self._next()
            if nxt is None:
                break
            if self.timeline.due_ns(nxt[0]) > clock.now_ns():
                self._pushback.append(nxt)
                break
            item = nxt
            self.frames_skipped += 1
        due = self.timeline.due_ns(item[0])
        deadline = clock.now_ns() + round(timeout_s * 1e9)
        if due > deadline:
            self._pushback.append(item)
            clock.sleep_until(deadline)
            raise CameraTimeout(
                f"replay camera {self.name}: no frame within {timeout_s:.2f} s (gap in recording)"
            )
        clock.sleep_until(due)
        self.frames_delivered += 1
        return Frame(stamp_ns=due, rgb=np.asarray(item[1]))

    def stop(self) -> None:
        self._it = None


class ReplayRobot:
    """``Robot`` whose state is the recorded one; it cannot be commanded."""

    def __init__(
        self,
        t_ns: np.ndarray,
        joint_pos: np.ndarray,
        joint_vel: np.ndarray,
        ee_pose: np.ndarray,
        gripper: np.ndarray,
        timeline: ReplayTimeline,
        joint_names: list[str] | None = None,
    ):
        if len(t_ns) == 0:
            raise HardwareError("replay robot: the recording holds no robot state")
        self.t_ns = np.asarray(t_ns, np.int64)
        self.joint_pos, self.joint_vel = np.asarray(joint_pos), np.asarray(joint_vel)
        self.ee_pose, self.gripper = np.asarray(ee_pose), np.asarray(gripper)
        self.timeline = timeline
        self.joint_names = joint_names or []
        self._started = False
        self._drained = 0  # index of the next state drain_states() hands out

    def describe(self) -> dict:
        info: dict = {"model": "replay"}
        if self.joint_names:
            info["joint_names"] = list(self.joint_names)
        if len(self.t_ns) > 1:
            info["state_rate_hz"] = round(float(1e9 / np.median(np.diff(self.t_ns))), 3)
        return info

    def start(self) -> None:
        self.timeline.start()
        self._started = True
        self._drained = int(np.searchsorted(self.t_ns, self.timeline.source_now(), side="right"))

    def state(self) -> RobotState:
        if not self._started:
            raise HardwareError("replay robot: state() before start()")
        i = int(np.searchsorted(self.t_ns, self.timeline.source_now(), side="right")) - 1
        return self._state(max(i, 0))

    def drain_states(self) -> list[RobotState]:
        """Every recorded state that became due since the previous call, oldest first (a
        buffered stream, like a 1 kHz subscription: nothing is lost if the reader is late)."""
        if not self._started:
            raise HardwareError("replay robot: drain_states() before start()")
        end = int(np.searchsorted(self.t_ns, self.timeline.source_now(), side="right"))
        states = [self._state(i) for i in range(self._drained, end)]
        self._drained = max(self._drained, end)
        return states

    def _state(self, i: int) -> RobotState:
        return RobotState(
            stamp_ns=self.timeline.due_ns(int(self.t_ns[i])),
            joint_pos=self.joint_pos[i].copy(),
            joint_vel=self.joint_vel[i].copy(),
            ee_pose=self.ee_pose[i].copy(),
            gripper_width=float(self.gripper[i]),
        )

    def send(self, target) -> None:
        raise RobotError(
            "replay robot plays back a recording and cannot be commanded; use the simulator "
            "or a real/fake robot for rollouts"
        )

    def hold(self) -> None:
        return None

    def recover(self) -> None:
        return None

    def stop(self) -> None:
        self._started = False


def replay_episode(
    path: str | Path, *, speed: float = 1.0, clock: Clock | None = None, allow_incomplete: bool = False
) -> tuple[ReplayCamera, ReplayRobot]:
    """Camera and robot replaying one recorded episode, sharing one timeline."""
    ep = read_episode(path, allow_incomplete=allow_incomplete)
    st = ep.states()
    first_frame = next(t for t, _ in ep.frames())
    timeline = ReplayTimeline(min(first_frame, int(st.joints_t[0])), clock, speed)
    # Robot state at each joint sample: pose and gripper are the latest at or before it.
    ei = np.maximum(np.searchsorted(st.ee_t, st.joints_t, side="right") - 1, 0)
    gi = np.maximum(np.searchsorted(st.gripper_t, st.joints_t, side="right") - 1, 0)
    robot = ReplayRobot(
        st.joints_t, st.joint_pos, st.joint_vel, st.ee_pose[ei], st.gripper[gi], timeline, st.joint_names
    )
    return ReplayCamera(ep.frames(), timeline, name=Path(path).name), robot


def video_frames(path: str | Path) -> Iterator[tuple[int, np.ndarray]]:
    """(presentation time ns, RGB) for each frame of a video file, decoded lazily."""
    try:
        yield from iter_video(path)
    except UnreadableVideoError as exc:
        raise HardwareError(
            f"cannot open video {path}; check the path and that it is an mp4/avi OpenCV can read"
        ) from exc


def replay_video(path: str | Path, *, speed: float = 1.0, clock: Clock | None = None) -> ReplayCamera:
    """Camera replaying a video file at its own frame timing."""
    return ReplayCamera(video_frames(path), ReplayTimeline(0, clock, speed), name=Path(path).name)
