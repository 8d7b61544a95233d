"""The 25 Hz control loop: newest embedding + robot state -> policy -> safety layer -> robot.

Each tick k is scheduled at ``t0 + k * period`` on the injected clock (``MonotonicClock`` on
hardware, the simulator's physics clock in simulation). A tick uses the newest observation only
if its frame is younger than ``watchdog.max_observation_age_s`` and the robot state younger than
``watchdog.max_state_age_s``; otherwise it holds. ``watchdog.stale_ticks`` stale ticks in a row
trip the watchdog: hold, stop, report. A robot error, an exception, Ctrl-C or ``request_stop()``
end the run with a safe stop (``robot.hold()``); the reason is in ``LoopResult.stop_reason``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from vipflow.actions import proprio_vector
from vipflow.hardware import Camera, Clock, HardwareError, MonotonicClock, Robot, RobotState, RobotTarget
from vipflow.interrupt import StopRequest, graceful
from vipflow.runtime.perception import (
    EncoderLike,
    InlinePerception,
    Observation,
    Perception,
    ThreadedPerception,
)
from vipflow.runtime.priority import freeze_heap, raise_to_realtime
from vipflow.runtime.safety import Hold, SafetyLayer
from vipflow.runtime.timing import TimingSamples, clock_kind


class PolicyLike(Protocol):
    """What the loop needs of a policy (``vipflow.policy.LoadedPolicy`` fits)."""

    def act(self, embedding: np.ndarray, proprio: np.ndarray, task: str | None = None) -> np.ndarray: ...


def policy_proprio_keys(policy: Any) -> tuple[str, ...]:
    """Proprioception keys the policy was trained with (``config.proprio_keys``; none if absent)."""
    config = getattr(policy, "config", None)
    return tuple(getattr(config, "proprio_keys", getattr(policy, "proprio_keys", ())))


def policy_action_space(policy: Any) -> str:
    config = getattr(policy, "config", None)
    space = getattr(config, "action_space", getattr(policy, "action_space", None))
    if space is None:
        raise ValueError("policy has no action_space (expected policy.config.action_space)")
    return str(space)


@dataclass(frozen=True)
class TickRecord:
    """What happened in one tick (times on the loop clock, ns)."""

    index: int
    scheduled_ns: int
    woke_ns: int
    commanded_ns: int  # when the command (or hold) was issued to the robot
    state: RobotState | None
    observation: Observation | None
    action: np.ndarray | None  # raw policy output
    target: RobotTarget | None  # what was sent (None when holding)
    hold_reason: str | None


@dataclass
class LoopResult:
    ticks: int
    stop_reason: str  # "completed" or why it stopped early
    safe_stopped: bool  # robot.hold() succeeded at the end of an early stop
    timing: TimingSamples
    holds: dict[str, int] = field(default_factory=dict)
    error: BaseException | None = None

    @property
    def completed(self) -> bool:
        return self.stop_reason == "completed"


class ControlLoop:
    """Runs ``policy`` on ``robot`` at ``rate_hz``; the caller starts/stops camera and robot.

    ``perception="thread"`` encodes in a background thread (hardware); ``"inline"`` encodes
    inside the tick (simulators with a physics clock); a ``Perception`` object is used as is.
    ``on_tick(record)`` runs after the command has left, e.g. to record the rollout as an episode.
    ``realtime_priority`` (e.g. 80) puts the loop thread on SCHED_FIFO while it runs, if permitted.
    """

    def __init__(
        self,
        camera: Camera,
        robot: Robot,
        encoder: EncoderLike,
        policy: PolicyLike,
        safety: SafetyLayer,
        clock: Clock | None = None,
        rate_hz: float = 25.0,
        *,
        perception: str | Perception = "thread",
        task: str | None = None,
        on_tick: Callable[[TickRecord], None] | None = None,
        torch_threads: int | None = 1,
        realtime_priority: int | None = None,
    ) -> None:
        if rate_hz <= 0:
            raise ValueError(f"rate_hz must be positive, got {rate_hz}")
        space = policy_action_space(policy)
        if space != safety.space:
            raise ValueError(
                f"policy acts in {space!r} but the safety layer checks {safety.space!r}; "
                f"build SafetyLayer(limits, action_space={space!r})"
            )
        if rate_hz > safety.rate_hz * (1 + 1e-9):
            raise ValueError(
                f"the loop runs at {rate_hz} Hz but the safety layer's per-tick envelope is for "
                f"{safety.rate_hz} Hz; build SafetyLayer(limits, rate_hz={rate_hz})"
            )
        self.robot, self.policy, self.safety = robot, policy, safety
        self.clock = clock or MonotonicClock()
        self.period_ns = round(1e9 / rate_hz)
        self.task = task
        self.on_tick = on_tick
        self.proprio_keys = policy_proprio_keys(policy)
        if perception == "thread":
            self.perception: Perception = ThreadedPerception(
                camera, encoder, self.clock, torch_threads=torch_threads
            )
        elif perception == "inline":
            self.perception = InlinePerception(camera, encoder, self.clock)
        elif isinstance(perception, str):
            raise ValueError(f"perception must be 'thread' or 'inline', got {perception!r}")
        else:
            self.perception = perception  # a ready Perception (e.g. a blocking inline baseline)
        self.realtime_priority = realtime_priority
        self.realtime = False  # whether the last run got real-time priority
        self._stop_request: str | None = None

    def request_stop(self, reason: str = "stop requested") -> None:
        """Thread-safe: the loop stops safely at the next tick (ROS stop service, SIGINT)."""
        self._stop_request = reason

    def wait_for_observation(self, timeout_s: float = 5.0) -> bool:
        """Wait until perception has a *fresh* embedding, so the first tick can act on it
        (returns False on timeout; the ticks then hold and the watchdog reports)."""
        max_age_ns = self.safety.limits.watchdog.max_observation_age_s * 1e9
        deadline = self.clock.now_ns() + int(timeout_s * 1e9)
        while self.clock.now_ns() < deadline:
            obs = self.perception.latest()
            if obs is not None and self.clock.now_ns() - obs.frame.stamp_ns <= max_age_ns:
                return True
            self.clock.sleep_until(self.clock.now_ns() + 5_000_000)
        return False

    # -- the loop ------------------------------------------------------------------------------------
    def run(self, ticks: int, *, warmup_timeout_s: float = 5.0) -> LoopResult:
        """Run ``ticks`` ticks (a rollout's horizon) and return what happened."""
        wd = self.safety.limits.watchdog
        timing = TimingSamples(period_ms=self.period_ns / 1e6, clock=clock_kind(self.clock))
        holds: dict[str, int] = {}
        self._stop_request = None
        stale_run, holding, last_commanded = 0, False, None
        reason, error = "completed", None
        freeze_heap(unless_frozen=True)  # no collector pause of the whole start-up heap inside the ticks
        old_switch = sys.getswitchinterval()
        sys.setswitchinterval(0.0005)  # the encoder thread must hand back the GIL quickly
        self.perception.start()
        restore = raise_to_realtime(self.realtime_priority) if self.realtime_priority else None
        self.realtime = restore is not None
        try:
            self.wait_for_observation(warmup_timeout_s)
            t0 = self.clock.now_ns()
            for k in range(ticks):
                scheduled = t0 + k * self.period_ns
                self.clock.sleep_until(scheduled)
                if self._stop_request is not None:
                    reason = self._stop_request
                    break
                woke = self.clock.now_ns()
                state = self.robot.state()
                obs = self.perception.latest()
                stale = self._staleness(woke, state, obs)
                action = target = None
                hold_reason: str | None = None
                if stale:
                    stale_run += 1
                    hold_reason = stale
                    if stale_run >= wd.stale_ticks:
                        reason = f"watchdog: {stale} for {stale_run} ticks"
                        break
                else:
                    stale_run = 0
                    proprio = proprio_vector(
                        self.proprio_keys, state.joint_pos, state.ee_pose, state.gripper_width
                    )
                    action = np.asarray(self.policy.act(obs.embedding, proprio, self.task))
                    decision = self.safety.filter(state, action)
                    if isinstance(decision, Hold):
                        hold_reason = decision.reason
                    else:
                        target = decision
                commanded = self.clock.now_ns()
                if target is not None:
                    self.robot.send(target)
                    holding = False
                else:
                    key = hold_reason.split(":")[0]
                    holds[key] = holds.get(key, 0) + 1
                    if not holding:
                        self.robot.hold()
                        holding = True
                self._account(timing, scheduled, woke, commanded, last_commanded, obs)
                last_commanded = commanded
                if self.on_tick is not None:
                    self.on_tick(
                        TickRecord(k, scheduled, woke, commanded, state, obs, action, target, hold_reason)
                    )
        except HardwareError as exc:
            reason, error = f"robot error: {exc}", exc
        except KeyboardInterrupt as exc:
            reason, error = "SIGINT (Ctrl-C)", exc
        except Exception as exc:
            reason, error = f"exception: {type(exc).__name__}: {exc}", exc
        finally:
            self.perception.stop()
            sys.setswitchinterval(old_switch)
            if restore is not None:
                restore()
            timing.encoder_latency += self.perception.take_encoder_latencies_ms()
        safe = True if reason == "completed" else self._safe_stop()
        result = LoopResult(timing.ticks, reason, safe, timing, holds, error)
        if error is not None and not isinstance(error, HardwareError):
            raise error  # bugs and Ctrl-C surface after the robot is safe
        return result

    # -- helpers ----------------------------------------------------------------------------------
    def _staleness(self, now: int, state: RobotState, obs: Observation | None) -> str:
        wd = self.safety.limits.watchdog
        state_age = (now - state.stamp_ns) / 1e9
        if state_age > wd.max_state_age_s:
            limit_ms = wd.max_state_age_s * 1e3
            return f"stale robot state: {state_age * 1e3:.0f} ms old (limit {limit_ms:.0f} ms)"
        camera_error = self.perception.error
        if obs is None:
            return "no observation yet" + (f" (camera error: {camera_error})" if camera_error else "")
        age = (now - obs.frame.stamp_ns) / 1e9
        if age > wd.max_observation_age_s:
            note = f"; camera error: {camera_error}" if camera_error else ""
            return (
                f"stale observation: frame {age * 1e3:.0f} ms old "
                f"(limit {wd.max_observation_age_s * 1e3:.0f} ms){note}"
            )
        return ""

    def _account(
        self, timing: TimingSamples, scheduled: int, woke: int, commanded: int, last: int | None,
        obs: Observation | None,
    ) -> None:
        """Command period = time between consecutive command issues; a deadline miss = a command
        issued after its tick's slot ended (it ran into the next tick)."""
        timing.ticks += 1
        timing.command_latency.append((commanded - woke) / 1e6)
        if last is not None:
            timing.periods.append((commanded - last) / 1e6)
        if commanded > scheduled + self.period_ns:
            timing.deadline_misses += 1
        if obs is not None:
            timing.frame_age.append((commanded - obs.frame.stamp_ns) / 1e6)

    def _safe_stop(self) -> bool:
        """Hold position; False when the robot could not be reached (its own reflex holds it)."""
        try:
            self.robot.hold()
            return True
        except HardwareError:
            return False


@contextlib.contextmanager
def stop_on_sigint(loop: ControlLoop) -> Iterator[StopRequest]:
    """Turn SIGINT (Ctrl-C) and SIGTERM into a safe ``request_stop`` while the loop runs (main thread
    only); yields the :class:`~vipflow.interrupt.StopRequest` saying which signal stopped it.

    A second signal raises ``Interrupted`` (a KeyboardInterrupt); the loop still safe-stops on it.
    """
    with graceful(loop.request_stop) as stop:
        yield stop
