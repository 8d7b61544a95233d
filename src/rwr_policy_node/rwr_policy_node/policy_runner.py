"""The policy node's work without rclpy: load policy and encoder, run the 25 Hz loop on demand.

``PolicyRunner`` owns at most one ``vipflow.runtime.ControlLoop`` run at a time, in its own
thread, so the ROS start/stop services answer at once and the executor never waits for a tick.
Given an encoder recipe it embeds frames in an encoder process: the node's executor already
shares the GIL with the control thread, and an encoder thread's Python share (preprocessing,
inference calls) delayed commands whenever the OS parked it while it held the GIL (bench/ros on
a loaded 2-core CPU: command period p99 42.7-44.8 ms with it, 40.4-40.7 ms without).
``CallbackBackend`` is the evaluation backend of a simulator that sits behind ROS (reset by a
service, judged by a success topic); real hardware uses ``HardwareBackend`` and an operator.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from typing import Any

from vipflow.evaluation.backend import HardwareBackend
from vipflow.evaluation.operator import Operator
from vipflow.hardware import Camera, CameraTimeout, HardwareError, MonotonicClock, Robot
from vipflow.policy.model import torch_threads
from vipflow.runtime.limits import SafetyLimits
from vipflow.runtime.loop import ControlLoop, LoopResult, TickRecord, policy_action_space
from vipflow.runtime.perception import EncoderLike, ProcessPerception
from vipflow.runtime.safety import SafetyLayer

FOREVER_TICKS = 10**12  # "run until stopped": about 1,000 years at 25 Hz


def load_policy_with_encoder(
    path: str, encoder_weights: str = "", device: str = "cpu", runtime: str = "auto", precision: str = "auto"
):
    """The policy, the encoder it was trained on (name/arch from the checkpoint, fingerprint checked)
    and that encoder's picklable recipe (for an encoder process); ``runtime``/``precision``: how
    frames are embedded (vipflow.encoders; auto = fastest passing the gate)."""
    from vipflow.encoders import load_encoder
    from vipflow.policy import load_policy

    policy = load_policy(path)
    ref = policy.config.encoder
    recipe = functools.partial(load_encoder, ref.name, encoder_weights or None, arch=ref.arch, device=device,
                               runtime=runtime, precision=precision)
    encoder = recipe()
    policy.check_encoder(encoder)
    return policy, encoder, recipe


def gripper_goal(target_width: float, measured_width: float, deadband_m: float) -> str:
    """'grasp' when the policy closes the hand (force-controlled, holds an object), else 'move'."""
    return "grasp" if target_width < measured_width - deadband_m else "move"


class PolicyRunner:
    """Start/stop the control loop from service callbacks; ``status()`` for the status topic."""

    def __init__(
        self,
        camera: Camera,
        robot: Robot,
        encoder,
        policy,
        limits: SafetyLimits,
        *,
        rate_hz: float = 25.0,
        task: str | None = None,
        torch_threads: int | None = 1,
        realtime_priority: int | None = None,
        encoder_process: Callable[[], EncoderLike] | None = None,
        on_tick: Callable[[TickRecord], None] | None = None,
        on_done: Callable[[LoopResult | None, BaseException | None], None] | None = None,
    ) -> None:
        """``encoder_process``: a picklable recipe of ``encoder``; when given, frames are embedded in
        a process of their own, started by ``open()`` and ended by ``close()`` (else in a thread)."""
        self.camera, self.robot, self.encoder, self.policy = camera, robot, encoder, policy
        self.clock = MonotonicClock()
        self.perception: str | ProcessPerception = "thread"
        if encoder_process is not None:
            self.perception = ProcessPerception(
                camera, encoder_process, self.clock, torch_threads=torch_threads
            )
        self.safety = SafetyLayer(limits, action_space=policy_action_space(policy), rate_hz=rate_hz)
        self.rate_hz, self.task, self.torch_threads = rate_hz, task, torch_threads
        self.realtime_priority = realtime_priority
        self.on_tick, self.on_done = on_tick, on_done
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: ControlLoop | None = None
        self._hardware_started = False
        self._active = False  # a run is in progress; cleared before on_done, so its status is final
        self._stop_reason: str | None = None
        self.last_result: LoopResult | None = None
        self.last_error: BaseException | None = None
        self.runs = 0

    @property
    def running(self) -> bool:
        return self._active

    def open(self) -> None:
        """Start the encoder process now (seconds: imports, weights, warm-up), not at the first run."""
        if isinstance(self.perception, ProcessPerception):
            self.perception.encoder.start()

    def close(self) -> None:
        """End the encoder process (after the run: ``stop`` and ``wait`` first)."""
        if isinstance(self.perception, ProcessPerception):
            self.perception.close()

    def start(self, ticks: int = 0) -> tuple[bool, str]:
        """Begin a run of ``ticks`` ticks (0 = until ``stop``); returns (accepted, message)."""
        with self._lock:
            if self.running:
                return False, "already running; call stop first"
            self._active, self._stop_reason = True, None
            self._thread = threading.Thread(
                target=self._run, args=(ticks or FOREVER_TICKS,), name="policy-loop", daemon=True
            )
            self._thread.start()
        return True, f"started ({ticks} ticks)" if ticks else "started (until stop)"

    def stop(self, reason: str = "stop requested") -> tuple[bool, str]:
        """Stop the run at its next tick, also one still starting (waiting for the robot)."""
        with self._lock:
            if not self.running:
                return False, "not running"
            self._stop_reason = reason
            if self._loop is not None:
                self._loop.request_stop(reason)
        return True, "stopping: the arm holds its pose at the next tick"

    def _tick(self, rec: TickRecord) -> None:
        """Every tick: re-assert a stop that raced with the loop's start, then report the tick."""
        reason = self._stop_reason
        loop = self._loop
        if reason is not None and loop is not None:
            loop.request_stop(reason)
        if self.on_tick is not None:
            self.on_tick(rec)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for the run and its ``on_done`` to finish; False on timeout."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return thread is None or not thread.is_alive()

    def _run(self, ticks: int) -> None:
        result, error = None, None
        try:
            if not self._hardware_started:
                self.robot.start()
                self.camera.start()
                self._hardware_started = True
            else:
                # After a reflex franka_ros2 stops publishing the arm state (the run then ended on a
                # robot error or the watchdog): clear it first. A no-op while the arm reports.
                self.robot.recover()
            loop = ControlLoop(
                self.camera,
                self.robot,
                self.encoder,
                self.policy,
                self.safety,
                self.clock,
                self.rate_hz,
                perception=self.perception,
                task=self.task,
                on_tick=self._tick,
                torch_threads=self.torch_threads,
                realtime_priority=self.realtime_priority,
            )
            with self._lock:
                self._loop = loop
                stopped = self._stop_reason
            if stopped is None:
                with torch_threads(self.torch_threads):  # the policy's too (an encoder thread sets its own)
                    result = loop.run(ticks)
        except HardwareError as exc:  # the robot never came up; nothing was commanded
            error = exc
        except Exception as exc:  # a bug: the loop has already held the arm; report, don't die silently
            error = exc
        finally:
            with self._lock:
                self._loop = None
                self.last_result, self.last_error = result, error
                self.runs += 1
                self._active = False
        if self.on_done is not None:
            self.on_done(result, error)

    def status(self) -> dict[str, Any]:
        r = self.last_result
        return {
            "state": "running" if self.running else "idle",
            "runs": self.runs,
            "last_stop_reason": self._stop_reason if r is None else r.stop_reason,
            "last_ticks": None if r is None else r.ticks,
            "last_holds": None if r is None else r.holds,
            "last_error": None if self.last_error is None else str(self.last_error),
            "last_timing": None
            if r is None
            else {k: v for k, v in r.timing.report().items() if k in ("deadline_misses", "loop_period_ms")},
        }


class CallbackBackend(HardwareBackend):
    """A simulator behind ROS: ``reset_fn(index)`` starts a rollout, ``success_fn()`` judges it."""

    def __init__(
        self,
        camera: Camera,
        robot: Robot,
        *,
        reset_fn: Callable[[int], None],
        success_fn: Callable[[], bool],
        name: str = "ros-sim",
        details: dict[str, Any] | None = None,
        profile: str = "sim-kitchen",  # the simulator behind ROS is the kitchen (vip_bringup's kitchen_sim)
        perception: str = "thread",
    ) -> None:
        super().__init__(camera, robot, name=name, details=details, profile=profile, perception=perception)
        self.reset_fn, self.success_fn = reset_fn, success_fn

    def reset(self, index: int, total: int, operator: Operator) -> None:
        self.robot.hold()
        self.reset_fn(index)
        self.await_new_scene(self.clock.now_ns())

    def await_new_scene(self, since_ns: int, timeout_s: float = 5.0) -> None:
        """Return once a camera frame and an arm state stamped after ``since_ns`` have arrived.

        The simulator publishes nothing while it resets. Without this wait the rollout's first tick
        acted on, and its episode recorded, the old scene's last frame and state, then a gap as long
        as the reset (168 ms measured, over the 4-period gap `vipflow episodes validate` fails).
        """
        deadline = since_ns + int(timeout_s * 1e9)
        while True:
            left_s = max(0.0, (deadline - self.clock.now_ns()) / 1e9)
            with contextlib.suppress(CameraTimeout):
                if self.camera.read(left_s).stamp_ns >= since_ns and self.robot.state().stamp_ns >= since_ns:
                    return
            if self.clock.now_ns() >= deadline:
                raise HardwareError(
                    f"no camera frame and arm state from the new scene {timeout_s:g} s after the simulator "
                    "reset; is kitchen_sim still publishing (`ros2 topic hz` on its image and joint states)?"
                )

    def judge(self, index: int, operator: Operator) -> tuple[bool, str]:
        return bool(self.success_fn()), "simulator"
