"""Fake camera, robot and clock that behave like the hardware, for tests and benchmarks.

They implement the ``vipflow.hardware`` protocols with the behaviour that matters to the recorder,
the control loop and the safety layer: frames arrive at a fixed rate with capture latency and are
dropped when the reader is slow; robot state is published at a fixed rate with latency; the arm
tracks targets with a first-order lag under velocity limits; a target beyond the joint limits, a
jump too large for one step, or a non-finite number raises a reflex-style ``RobotError`` and
leaves the robot in an error mode until ``recover()``. Faults are injected explicitly: camera
stalls / frozen frames / disconnects, robot reflex errors / command stalls / frozen state /
disconnects.

Time comes from an injected ``Clock``: ``MonotonicClock`` for real-time runs (threads allowed) or
``ManualClock`` for fast, deterministic single-threaded tests (sleeping advances virtual time).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vipflow.hardware.franka import (
    DQ_MAX,
    GRIPPER_MAX_WIDTH_M,
    HOME_Q,
    PANDA_Q_MAX,
    PANDA_Q_MIN,
    forward_kinematics,
    inverse_kinematics,
)
from vipflow.hardware.protocols import (
    CameraTimeout,
    Clock,
    Frame,
    HardwareError,
    MonotonicClock,
    RobotError,
    RobotState,
    RobotTarget,
)


class ManualClock:
    """Virtual time: ``sleep_until`` jumps forward instantly, so tests run faster than real time.

    Use it single-threaded (one thread sleeping); with several threads time would race ahead.
    """

    kind = "simulated"

    def __init__(self, start_ns: int = 1_000_000_000) -> None:
        self._now = int(start_ns)
        self._lock = threading.Lock()

    def now_ns(self) -> int:
        with self._lock:
            return self._now

    def sleep_until(self, t_ns: int) -> None:
        with self._lock:
            self._now = max(self._now, int(t_ns))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += round(seconds * 1e9)


def moving_square_scene(height: int, width: int) -> Callable[[int, int], np.ndarray]:
    """A default scene: a gradient background with a bright square that moves frame by frame,
    so consecutive frames differ and an encoder sees changing input."""
    yy, xx = np.mgrid[0:height, 0:width]
    background = np.stack(
        [(xx * 255 // max(width - 1, 1)), (yy * 255 // max(height - 1, 1)), np.full_like(xx, 64)], -1
    ).astype(np.uint8)
    side = max(2, min(height, width) // 6)

    def render(index: int, stamp_ns: int) -> np.ndarray:
        img = background.copy()
        x = (index * 3) % max(width - side, 1)
        y = (index * 2) % max(height - side, 1)
        img[y : y + side, x : x + side] = 255
        return img

    return render


class FakeCamera:
    """A camera streaming at ``fps`` with ``latency_s`` between capture and delivery.

    Like a RealSense with a depth-1 queue, ``read()`` returns the newest frame not yet returned,
    so a slow reader skips frames; ``Frame.stamp_ns`` is the *capture* time.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        fps: float = 30.0,
        latency_s: float = 0.015,
        height: int = 96,
        width: int = 128,
        scene: Callable[[int, int], np.ndarray] | None = None,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.clock = clock or MonotonicClock()
        self.period_ns = round(1e9 / fps)
        self.latency_ns = round(latency_s * 1e9)
        self.height, self.width = height, width
        self.scene = scene or moving_square_scene(height, width)
        self._t0: int | None = None
        self._last_index = -1
        self._last_frame: Frame | None = None
        self._stall_from: int | None = None
        self._stall_until: float = -math.inf
        self._frozen = False
        self._disconnected = False
        self.frames_delivered = 0

    # -- protocol ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._disconnected:
            raise HardwareError("FakeCamera: device disconnected; reconnect the camera (USB 3 port)")
        self._t0 = self.clock.now_ns()
        self._last_index = -1

    def read(self, timeout_s: float = 1.0) -> Frame:
        if self._t0 is None:
            raise HardwareError("FakeCamera: read() before start(); call start() first")
        if self._disconnected:
            raise HardwareError("FakeCamera: device disconnected; reconnect the camera (USB 3 port)")
        now = self.clock.now_ns()
        deadline = now + int(timeout_s * 1e9)
        if self._frozen and self._last_frame is not None:
            # A wedged driver hands back the same buffer (same stamp) at the normal rate.
            self.clock.sleep_until(min(now + self.period_ns, deadline))
            return self._last_frame
        newest = (now - self._t0 - self.latency_ns) // self.period_ns
        index = max(self._last_index + 1, newest)
        deliver = self._t0 + index * self.period_ns + self.latency_ns
        if self._stall_from is not None and deliver >= self._stall_from and deliver < self._stall_until:
            resume = deadline + 1 if math.isinf(self._stall_until) else int(self._stall_until)
            index = max(index, -(-(resume - self._t0 - self.latency_ns) // self.period_ns))
            deliver = self._t0 + index * self.period_ns + self.latency_ns
        if deliver > deadline:
            self.clock.sleep_until(deadline)
            raise CameraTimeout(
                f"FakeCamera: no frame within {timeout_s:.3f} s (stalled stream); check the cable "
                "and the camera's frame rate"
            )
        self.clock.sleep_until(deliver)
        stamp = self._t0 + index * self.period_ns
        frame = Frame(stamp_ns=stamp, rgb=self.scene(index, stamp))
        self._last_index = index
        self._last_frame = frame
        self.frames_delivered += 1
        return frame

    def stop(self) -> None:
        self._t0 = None

    # -- fault injection -----------------------------------------------------------------------
    def stall(self, duration_s: float | None = None) -> None:
        """No frames from now on, for ``duration_s`` (``None`` = until ``resume()``)."""
        now = self.clock.now_ns()
        self._stall_from = now
        self._stall_until = math.inf if duration_s is None else now + duration_s * 1e9

    def resume(self) -> None:
        self._stall_from, self._stall_until = None, -math.inf
        self._frozen = False

    def freeze(self) -> None:
        """Keep returning the last frame (same stamp), as a wedged driver does."""
        self._frozen = True

    def disconnect(self) -> None:
        self._disconnected = True


@dataclass
class FakeRobotLimits:
    """What the fake 'hardware' itself refuses (reflexes), independent of our safety layer."""

    # A Panda's joint ranges (its reflexes fire there); velocities as both arms allow.
    q_min: np.ndarray = field(default_factory=lambda: np.array(PANDA_Q_MIN))
    q_max: np.ndarray = field(default_factory=lambda: np.array(PANDA_Q_MAX))
    dq_max: np.ndarray = field(default_factory=lambda: np.array(DQ_MAX))
    max_joint_jump: float = 0.5  # rad between current and target: beyond it -> discontinuity reflex
    max_cartesian_jump: float = 0.15  # m between current and target hand position -> cartesian reflex
    gripper_max: float = GRIPPER_MAX_WIDTH_M
    gripper_speed: float = 0.1  # m/s


class FakeRobot:
    """A 7-DOF Franka arm with a gripper that tracks absolute targets like an impedance controller.

    Joint positions follow the target with a first-order lag (``tracking_tau_s``) under the joint
    velocity limits; Cartesian targets are converted by IK. State is published at
    ``state_rate_hz`` and is ``state_latency_s`` old when read. Every accepted command and hold is
    logged in ``commands`` / ``holds`` so tests can check what actually reached the 'arm'.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        q0: np.ndarray | None = None,
        gripper0: float = 0.04,
        state_rate_hz: float = 1000.0,
        state_latency_s: float = 0.001,
        command_latency_s: float = 0.0,
        tracking_tau_s: float = 0.05,
        limits: FakeRobotLimits | None = None,
    ) -> None:
        self.clock = clock or MonotonicClock()
        self.limits = limits or FakeRobotLimits()
        self._q = np.array(HOME_Q if q0 is None else q0, dtype=np.float64)
        self._dq = np.zeros(7)
        self._q_target = self._q.copy()
        self._g = float(gripper0)
        self._g_target = self._g
        self._state_period_ns = round(1e9 / state_rate_hz)
        self._state_latency_ns = round(state_latency_s * 1e9)
        self._command_latency_s = command_latency_s
        self._tau_s = tracking_tau_s
        self._t_ns = self.clock.now_ns()
        self._lock = threading.RLock()
        self._started = False
        self._error: str | None = None
        self._pending_error: str | None = None
        self._frozen_state: RobotState | None = None
        self._disconnected = False
        self._stall_s = 0.0
        self.commands: list[tuple[int, RobotTarget]] = []
        self.holds: list[int] = []
        self.recoveries = 0
        self.stopped = False

    # -- physics --------------------------------------------------------------------------------
    def _advance(self) -> None:
        now = self.clock.now_ns()
        dt = (now - self._t_ns) / 1e9
        if dt <= 0:
            return
        self._t_ns = now
        if self._error is None:
            step = (self._q_target - self._q) * (1.0 - math.exp(-dt / self._tau_s))
            step = np.clip(step, -self.limits.dq_max * dt, self.limits.dq_max * dt)
            self._q = self._q + step
            self._dq = step / dt
            g_step = self.limits.gripper_speed * dt
            self._g += float(np.clip(self._g_target - self._g, -g_step, g_step))
        else:
            self._dq = np.zeros(7)  # a reflex brakes the arm

    def _check_link(self) -> None:
        if self._disconnected:
            raise HardwareError(
                "FakeRobot: connection to the controller lost; check the network cable and FCI"
            )
        if not self._started:
            raise HardwareError("FakeRobot: not started; call start() first")

    # -- protocol -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._disconnected:
            raise HardwareError("FakeRobot: connection to the controller lost; check the network cable")
        with self._lock:
            self._t_ns = self.clock.now_ns()
            self._started = True
            self.stopped = False

    def state(self) -> RobotState:
        with self._lock:
            self._check_link()
            if self._frozen_state is not None:
                return self._frozen_state
            self._advance()
            published = self.clock.now_ns() - self._state_latency_ns
            stamp = published - published % self._state_period_ns
            return RobotState(
                stamp_ns=int(stamp),
                joint_pos=self._q.copy(),
                joint_vel=self._dq.copy(),
                ee_pose=forward_kinematics(self._q),
                gripper_width=self._g,
            )

    def send(self, target: RobotTarget) -> None:
        if self._stall_s > 0:
            stall, self._stall_s = self._stall_s, 0.0
            self.clock.sleep_until(self.clock.now_ns() + int(stall * 1e9))
        if self._command_latency_s > 0:
            self.clock.sleep_until(self.clock.now_ns() + int(self._command_latency_s * 1e9))
        with self._lock:
            self._check_link()
            if self._error is not None:
                raise RobotError(f"FakeRobot: in error mode ({self._error}); call recover() first")
            self._advance()
            if self._pending_error is not None:
                self._reflex(self._pending_error)
            q_target = self._joint_target(target)
            g = float(target.gripper_width)
            if not math.isfinite(g) or not 0.0 <= g <= self.limits.gripper_max:
                self._reflex(f"gripper width {g} outside [0, {self.limits.gripper_max}]")
            self._q_target = q_target
            self._g_target = g
            self.commands.append((self.clock.now_ns(), target))

    def hold(self) -> None:
        with self._lock:
            self._check_link()
            self._advance()
            self._q_target = self._q.copy()
            self._g_target = self._g
            self.holds.append(self.clock.now_ns())

    def recover(self) -> None:
        with self._lock:
            self._check_link()
            self._advance()
            self._error = None
            self._q_target = self._q.copy()
            self.recoveries += 1

    def stop(self) -> None:
        with self._lock:
            if not self._disconnected and self._started:
                self._advance()
                self._q_target = self._q.copy()
            self._started = False
            self.stopped = True

    # -- helpers ---------------------------------------------------------------------------------
    def _reflex(self, reason: str) -> None:
        self._error = reason
        self._pending_error = None
        self._q_target = self._q.copy()
        raise RobotError(f"FakeRobot: {reason}; motion aborted, call recover()")

    def _joint_target(self, target: RobotTarget) -> np.ndarray:
        lim = self.limits
        if target.joint_pos is not None:
            q = np.asarray(target.joint_pos, dtype=np.float64)
            if q.shape != (7,) or not np.all(np.isfinite(q)):
                self._reflex(f"invalid joint target {q}")
        else:
            pose = np.asarray(target.ee_pose, dtype=np.float64)
            bad = pose.shape != (7,) or not np.all(np.isfinite(pose))
            if bad or abs(np.linalg.norm(pose[3:]) - 1) > 1e-3:
                self._reflex(f"invalid cartesian target {pose}")
            if np.linalg.norm(pose[:3] - forward_kinematics(self._q)[:3]) > lim.max_cartesian_jump:
                self._reflex("cartesian_reflex: target too far from the current pose")
            q = inverse_kinematics(pose, self._q)
        if np.any(q < lim.q_min) or np.any(q > lim.q_max):
            self._reflex("joint_position_limits_violation")
        if np.max(np.abs(q - self._q)) > lim.max_joint_jump:
            self._reflex("joint_motion_generator_position_discontinuity")
        return q

    # -- fault injection ------------------------------------------------------------------------
    def inject_error(self, reason: str = "cartesian_reflex") -> None:
        """The next ``send`` raises ``RobotError`` and leaves the arm in error mode."""
        self._pending_error = reason

    def freeze_state(self) -> None:
        """``state()`` keeps returning the same sample (a stuck state publisher)."""
        with self._lock:
            self._frozen_state = None
            self._frozen_state = self.state()

    def unfreeze_state(self) -> None:
        self._frozen_state = None

    def stall(self, seconds: float) -> None:
        """The next ``send`` blocks for ``seconds`` (a network or driver hiccup)."""
        self._stall_s = float(seconds)

    def disconnect(self) -> None:
        self._disconnected = True

    @property
    def in_error(self) -> str | None:
        return self._error
