"""Recording session: N episodes of kinesthetic demos with timers, keys, and crash safety.

Threads and why: the camera and the robot state are read in their own threads at their own
rates and push into a bounded queue without ever blocking (a full queue drops the sample and
counts it); one writer thread drains the queue into the episode's bag. So a slow disk shows up
as counted drops in the cadence report, never as a stalled camera or a late robot reading.
Episode boundaries travel through the same queue as the samples, so what lands in an episode is
exactly what arrived between the start and stop keys.
"""

from __future__ import annotations

import contextlib
import errno
import queue
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from vipflow.config_schema import REQUIRED, option
from vipflow.episodes.dataset import list_episodes, summarize, write_manifest
from vipflow.episodes.edit import move_to_trash
from vipflow.episodes.errors import DiskFullError, EpisodeError, IncompatibleSessionError
from vipflow.episodes.layout import next_episode_index
from vipflow.episodes.meta import EpisodeMeta, config_differences
from vipflow.episodes.recovery import recover_dataset
from vipflow.episodes.writer import EpisodeWriter, os_error_to_episode_error
from vipflow.hardware import Camera, HardwareError, Robot
from vipflow.interrupt import signum_of
from vipflow.live.publisher import LivePublisher
from vipflow.record.keys import KeySource
from vipflow.runtime.priority import freeze_heap

START_KEYS = ("space", "enter")
SUCCESS_KEYS = ("s",)
FAILURE_KEYS = ("f",)
DISCARD_KEYS = ("r", "left", "backspace")
QUIT_KEYS = ("q", "esc")
UNLABELED_KEYS = ("u",)


@dataclass
class SessionConfig:
    """What to record. ``num_episodes`` counts episodes recorded in *this* run (also on resume).
    Declared once (``config_schema.option``): `vipflow record` derives its options from it."""

    dataset: Path = option(REQUIRED, "dataset directory (created if missing)")
    task: str = option(REQUIRED, "task name stored with every episode")
    num_episodes: int = option(20, "episodes to record in this run", flag="--episodes", bounds="[1, 10000]")
    episode_time_s: float = option(
        2.0, "seconds per demo (VIP protocol: 50 steps at 25 Hz)", flag="--episode-time", bounds="(0, 3600]"
    )
    reset_time_s: float = option(
        10.0, "reset phase between demos, seconds", flag="--reset-time", bounds="[0, 3600]"
    )
    auto_start: bool = option(False, "start the next demo when the reset time ends")
    goal_text: str = option("", "goal sentence stored with every episode")
    operator: str = option("", "who records")
    tags: tuple[str, ...] = option(
        (), "tag stored with every episode (repeatable)", flag="--add-tag", deprecated=("--tag",), repeat=True
    )
    source: str = option("", "what produced the frames (stored with every episode)", cli=False)
    image_format: str = option("raw", "how frames are stored", choices=("raw", "jpeg", "png"))
    nominal_rate_hz: float = option(25.0, "nominal control grid, Hz", flag="--rate", bounds="[1, 1000]")
    state_rate_hz: float = option(
        100.0, "robot state sampling rate, Hz", flag="--state-rate", bounds="[1, 10000]"
    )
    resume: bool = option(False, "continue numbering in a non-empty dataset")
    queue_s: float = option(2.0, "seconds of samples the writer may fall behind before drops", cli=False)
    camera_timeout_s: float = option(1.0, "seconds without a frame before the camera is lost", cli=False)


def record_values(tc) -> dict[str, Any]:
    """What a task config (``vipflow.task_config.TaskConfig``) says about recording, as the middle
    layer of ``defaults < task YAML < flags`` (`vipflow record --task-config`)."""
    return {
        "dataset": str(tc.dataset_dir),
        "task": tc.task,
        "num_episodes": tc.record.episodes,
        "episode_time_s": tc.record.horizon / tc.rate_hz,
        "reset_time_s": tc.record.reset_s,
        "goal_text": tc.goal_text,
        "image_format": tc.record.image_format,
        "nominal_rate_hz": tc.rate_hz,
    }


@dataclass
class EpisodeRecord:
    name: str
    label: str  # success / failure / unlabeled / discarded
    path: Path | None
    line: str


@dataclass
class SessionResult:
    episodes: list[EpisodeRecord] = field(default_factory=list)
    quit_early: bool = False
    recovered: list[str] = field(default_factory=list)
    stop_signal: int | None = None  # SIGINT/SIGTERM that ended the session (vipflow.interrupt)

    @property
    def kept(self) -> list[EpisodeRecord]:
        return [e for e in self.episodes if e.label != "discarded"]


class _Acquisition:
    """Camera and robot-state threads feeding one bounded queue (never blocking)."""

    def __init__(self, camera: Camera, robot: Robot, state_rate_hz: float, maxsize: int, timeout_s: float,
                 live: LivePublisher | None = None):
        self.camera, self.robot, self.live = camera, robot, live
        self.period_s = 1.0 / state_rate_hz
        self.timeout_s = timeout_s
        self.q: queue.Queue = queue.Queue(maxsize=maxsize)
        self.stop_event = threading.Event()
        self.recording = False
        self.drops = {"camera": 0, "state": 0}
        self.error: BaseException | None = None
        self.threads = [
            threading.Thread(target=self._camera_loop, name="rec-camera", daemon=True),
            threading.Thread(target=self._state_loop, name="rec-state", daemon=True),
        ]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=max(2.0, 2 * self.timeout_s))

    def _offer(self, kind: str, sample: Any) -> None:
        if self.live is not None:  # the viewer's own bounded queue: never blocks either
            (self.live.frame if kind == "camera" else self.live.state)(sample)
        try:
            self.q.put_nowait((kind, time.monotonic_ns(), sample))
        except queue.Full:
            if self.recording:
                self.drops[kind] += 1

    def _camera_loop(self) -> None:
        try:
            while not self.stop_event.is_set():
                self._offer("camera", self.camera.read(self.timeout_s))
        except HardwareError as exc:
            self.error = exc

    def _state_loop(self) -> None:
        """Poll ``robot.state()`` at the configured rate (duplicates by stamp skipped), or, for a
        backend that buffers its stream (``drain_states()``: every state since the last call,
        oldest first), take all of them: lossless at 1 kHz even when this thread is late."""
        drain = getattr(self.robot, "drain_states", None)
        period = max(self.period_s, 0.005) if drain else self.period_s
        last = None
        next_t = time.monotonic()
        try:
            while not self.stop_event.is_set():
                states = drain() if drain else [self.robot.state()]
                for state in states:
                    if state.stamp_ns != last:
                        last = state.stamp_ns
                        self._offer("state", state)
                next_t += period
                delay = next_t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    next_t = time.monotonic()  # fell behind: don't burst to catch up
        except HardwareError as exc:
            self.error = exc


class _WriterThread:
    """Drains the queue: samples go to the open episode; control items open/cut/close it."""

    def __init__(self, q: queue.Queue) -> None:
        self.q = q
        self.writer: EpisodeWriter | None = None
        self.writing = False
        self.counts = {"camera": 0, "state": 0}
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="rec-writer", daemon=True)

    def control(self, kind: str, payload: Any = None) -> None:
        self.q.put((kind, time.monotonic_ns(), payload))  # may block briefly; samples never do

    def _loop(self) -> None:
        while True:
            kind, _, payload = self.q.get()
            if kind == "quit":
                return
            if kind == "open":
                self.writer, self.writing, self.error = payload, True, None
                self.counts = {"camera": 0, "state": 0}
            elif kind == "cut":
                self.writing = False
            elif kind == "call":  # run a function on the writer in order with the samples
                fn, done = payload
                try:
                    done.result = fn(self.writer)
                except BaseException as exc:
                    done.error = exc
                self.writer = None
                done.set()
            elif self.writing and self.writer is not None and self.error is None:
                try:
                    if kind == "camera":
                        self.writer.write_frame(payload)
                    else:
                        self.writer.write_state(payload)
                    self.counts[kind] += 1
                except (EpisodeError, OSError) as exc:
                    self.error = exc

    def run_on_writer(self, fn) -> Any:
        done = threading.Event()
        done.result, done.error = None, None  # type: ignore[attr-defined]
        self.control("call", (fn, done))
        done.wait()
        if done.error is not None:  # type: ignore[attr-defined]
            raise done.error  # type: ignore[attr-defined]
        return done.result  # type: ignore[attr-defined]


class RecorderSession:
    """Run with ``run()``; everything it talks to (camera, robot, keys, output) is injected."""

    def __init__(
        self, config: SessionConfig, camera: Camera, robot: Robot, keys: KeySource, out: TextIO | None = None,
        live: LivePublisher | None = None, new_scene: Callable[[], None] | None = None,
    ) -> None:
        self.cfg = config
        self.live = live  # optional Foxglove viewer: camera, robot state, episode start/end
        # Sets the next scene up before its start key is asked for: a simulator's reset (the rig's
        # operator resets by hand). Done then, a slow reset never pauses the streams mid-episode.
        self.new_scene = new_scene
        self.camera, self.robot, self.keys = camera, robot, keys
        self.out = out or sys.stdout
        self.dataset = Path(config.dataset)
        self.camera_info: dict[str, Any] = {}
        self.robot_info: dict[str, Any] = {}
        self.bytes_per_s = 0.0
        self._status_shown = False
        self.stop_signal: int | None = None

    # -- output ------------------------------------------------------------------------------
    def say(self, text: str) -> None:
        if self._status_shown:  # clear the live status line first
            self.out.write("\r\x1b[K")
            self._status_shown = False
        self.out.write(text + "\n")
        self.out.flush()

    def status(self, text: str) -> None:
        """A live line refreshed in place (terminals only; streams get just the prompts)."""
        if getattr(self.out, "isatty", lambda: False)():
            self.out.write("\r" + text + "\x1b[K")
            self.out.flush()
            self._status_shown = True

    # -- setup -------------------------------------------------------------------------------
    def _prepare_dataset(self, result: SessionResult) -> int:
        try:
            self.dataset.mkdir(parents=True, exist_ok=True)
            probe = self.dataset / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise os_error_to_episode_error(exc, self.dataset, "preparing dataset") from exc
        for r in recover_dataset(self.dataset):
            result.recovered.append(r.line())
            self.say(f"recovered interrupted recording: {r.line()}")
        finished = [s for s in list_episodes(self.dataset) if s.status in ("ok", "incomplete")]
        if finished and not self.cfg.resume:
            raise IncompatibleSessionError(
                f"{self.dataset} already holds {len(finished)} episodes (last {finished[-1].name}); pass "
                "--resume to continue numbering after it, or choose a new dataset directory"
            )
        return next_episode_index(self.dataset)

    def _meta(self, index: int) -> EpisodeMeta:
        c = self.cfg
        return EpisodeMeta(
            task=c.task,
            goal_text=c.goal_text,
            operator=c.operator,
            tags=list(c.tags),
            nominal_rate_hz=c.nominal_rate_hz,
            source=c.source,
            camera=dict(self.camera_info),
            robot=dict(self.robot_info),
            index=index,
            session=self.session_id,
        )

    def _check_resume(self) -> None:
        finished = [s for s in list_episodes(self.dataset) if s.meta is not None and s.status == "ok"]
        if not finished:
            return
        diffs = config_differences(finished[-1].meta, self._meta(0))
        if diffs:
            raise IncompatibleSessionError(
                f"cannot resume {self.dataset}: this setup differs from {finished[-1].name}: "
                + "; ".join(diffs)
                + ". Record into a new dataset directory, or match the camera/robot/task options"
            )

    def _start_hardware(self) -> None:
        self.camera.start()
        self.robot.start()
        frame = self.camera.read(max(self.cfg.camera_timeout_s, 5.0))  # warm-up; learns the resolution
        state = self.robot.state()
        h, w = frame.rgb.shape[:2]
        desc_cam = getattr(self.camera, "describe", dict)()
        desc_rob = getattr(self.robot, "describe", dict)()
        self.camera_info = {**desc_cam, "width": w, "height": h, "image_format": self.cfg.image_format}
        self.robot_info = {"state_rate_hz": self.cfg.state_rate_hz, **desc_rob}
        self.robot_info.setdefault("dof", len(state.joint_pos))
        fps = float(self.camera_info.get("fps") or 30.0)
        frame_bytes = w * h * 3 if self.cfg.image_format == "raw" else w * h * 3 / 8
        self.bytes_per_s = frame_bytes * fps + 3 * 300 * self.cfg.state_rate_hz

    def _check_space(self) -> None:
        need = self.bytes_per_s * self.cfg.episode_time_s * 1.5 + 20e6
        free = shutil.disk_usage(self.dataset).free
        if free < need:
            raise DiskFullError(
                errno.ENOSPC,
                f"only {free / 1e6:.0f} MB free on the disk of {self.dataset}; one "
                f"{self.cfg.episode_time_s:g} s "
                f"episode needs about {need / 1e6:.0f} MB. Free space, use --image-format jpeg, or record to "
                "another disk",
            )

    # -- the session -------------------------------------------------------------------------
    def run(self) -> SessionResult:
        result = SessionResult()
        index = self._prepare_dataset(result)
        self.session_id = time.strftime("%Y%m%d-%H%M%S")
        try:
            self._start_hardware()
            if self.cfg.resume:
                self._check_resume()
            self._check_space()  # fail before the operator starts demonstrating, not after
            freeze_heap(unless_frozen=True)  # no collector pause of the start-up heap while episodes record
            self._episodes(result, index)
        finally:
            result.stop_signal = self.stop_signal
            for device in (self.camera, self.robot):
                with contextlib.suppress(HardwareError):
                    device.stop()
        kept = result.kept
        labels = {k: sum(e.label == k for e in kept) for k in ("success", "failure", "unlabeled")}
        self.say(
            f"session done: {len(kept)} episode(s) kept ({labels['success']} success, {labels['failure']} "
            f"failure, {labels['unlabeled']} unlabeled), {len(result.episodes) - len(kept)} discarded"
        )
        return result

    def _episodes(self, result: SessionResult, index: int) -> None:
        fps = float(self.camera_info.get("fps") or 30.0)
        maxsize = max(16, int(self.cfg.queue_s * (fps + self.cfg.state_rate_hz)))
        acq = _Acquisition(
            self.camera, self.robot, self.cfg.state_rate_hz, maxsize, self.cfg.camera_timeout_s, self.live
        )
        wt = _WriterThread(acq.q)
        wt.thread.start()
        acq.start()
        self.say(
            f"recording {self.cfg.num_episodes} episode(s) of {self.cfg.task!r} into {self.dataset} "
            f"({self.camera_info['width']}x{self.camera_info['height']} {self.cfg.image_format}, "
            f"state polled at {self.cfg.state_rate_hz:g} Hz)"
        )
        self.say(
            "keys: [space] start  [s] stop: success  [f] stop: failure  [r] discard & re-record  [q] quit"
        )
        try:
            recorded = 0
            while recorded < self.cfg.num_episodes:
                if not self._wait_for_start(acq, recorded, index):
                    result.quit_early = True
                    return
                if self.live is not None:
                    name = f"episode_{index:04d}"
                    self.live.event("episode_start", name, index=index, detail=self.cfg.task)
                record, quit_now = self._record_one(acq, wt, index, recorded)
                if self.live is not None:
                    self.live.event("episode_end", record.name, index=index, label=record.label)
                result.episodes.append(record)
                self.say(record.line)
                if record.label != "discarded":
                    recorded += 1
                    index += 1
                write_manifest(self.dataset)
                if quit_now:
                    result.quit_early = recorded < self.cfg.num_episodes
                    return
        finally:
            acq.stop()
            wt.control("quit")
            wt.thread.join(timeout=10)

    def _raise_acquisition_error(self, acq: _Acquisition) -> None:
        if acq.error is not None:
            raise HardwareError(f"acquisition stopped: {acq.error}") from acq.error

    def _typed_ahead(self) -> list[str]:
        keys = []
        while (key := self.keys.get(0.0)) is not None:
            keys.append(key)
        return keys

    def _wait_for_start(self, acq: _Acquisition, recorded: int, index: int) -> bool:
        """Reset phase (after the first episode), then wait for the start key. False = quit."""
        n = f"episode_{index:04d} ({recorded + 1}/{self.cfg.num_episodes})"
        if self.new_scene is not None:
            self.new_scene()
            # A start key typed while the scene was being set up may have reached the simulator
            # before its reset, which then stopped the demo that key began: it must come again.
            early = self._typed_ahead()
            if any(k in QUIT_KEYS for k in early):
                return False
            if any(k in START_KEYS for k in early):
                self.say(f"a start key came before the new scene for {n} was ready: press it again")
        reset = self.cfg.reset_time_s if recorded else 0.0
        t_end = time.monotonic() + reset
        if reset:
            self.say(f"reset the scene for {n}: {reset:g} s  [space] start now  [q] quit")
        else:
            self.say(f"ready for {n}: [space] start  [q] quit")
        prompted = not reset
        while True:
            self._raise_acquisition_error(acq)
            key = self.keys.get(0.1)
            if key in START_KEYS:
                return True
            if key in QUIT_KEYS:
                return False
            left = t_end - time.monotonic()
            if reset and left > 0:
                self.status(f"reset {left:4.1f} s")
            elif not prompted:
                if self.cfg.auto_start:
                    return True
                self.say(f"reset time over; [space] start {n}  [q] quit")
                prompted = True

    def _record_one(
        self, acq: _Acquisition, wt: _WriterThread, index: int, recorded: int
    ) -> tuple[EpisodeRecord, bool]:
        name = f"episode_{index:04d}"
        self._check_space()
        writer = EpisodeWriter(self.dataset / name, self._meta(index), image_format=self.cfg.image_format)
        drops0 = dict(acq.drops)
        acq.recording = True
        wt.control("open", writer)
        t0 = time.monotonic()
        self.say(f"REC {name}: [s] success  [f] failure  [r] discard & re-record  [q] stop & quit")
        label, quit_now, interrupted = None, False, None
        try:
            while label is None:
                if acq.error is not None or wt.error is not None:
                    interrupted = acq.error or wt.error
                    break
                key = self.keys.get(0.05)
                elapsed = time.monotonic() - t0
                if key in SUCCESS_KEYS:
                    label = "success"
                elif key in FAILURE_KEYS:
                    label = "failure"
                elif key in DISCARD_KEYS:
                    label = "discarded"
                elif key in QUIT_KEYS:
                    label, quit_now = "unlabeled", True
                elif elapsed >= self.cfg.episode_time_s:
                    acq.recording = False
                    wt.control("cut")
                    label, quit_now = self._ask_label(name)
                else:
                    self.status(
                        f"REC {name} {elapsed:5.2f}/{self.cfg.episode_time_s:g} s  frames "
                        f"{wt.counts['camera']}  states {wt.counts['state']}  "
                        f"drops {sum(acq.drops.values()) - sum(drops0.values())}"
                    )
        except KeyboardInterrupt as exc:  # SIGTERM too, as vipflow.interrupt.Interrupted
            interrupted = exc
            quit_now = True
            self.stop_signal = signum_of(exc)
        acq.recording = False
        wt.control("cut")
        drops = {k: acq.drops[k] - drops0[k] for k in drops0}
        if interrupted is not None:
            return self._finish_interrupted(wt, name, interrupted), True
        return self._finish(wt, name, label, drops), quit_now

    def _ask_label(self, name: str) -> tuple[str, bool]:
        self.say(
            f"time up for {name}: [s] success  [f] failure  [u] unlabeled  [r] discard & re-record  [q] quit"
        )
        while True:
            key = self.keys.get(0.1)
            for keys, label in (
                (SUCCESS_KEYS, "success"),
                (FAILURE_KEYS, "failure"),
                (UNLABELED_KEYS, "unlabeled"),
                (DISCARD_KEYS, "discarded"),
            ):
                if key in keys:
                    return label, False
            if key in QUIT_KEYS:
                return "unlabeled", True

    def _finish(self, wt: _WriterThread, name: str, label: str, drops: dict[str, int]) -> EpisodeRecord:
        def close(writer: EpisodeWriter) -> Path:
            if wt.error is not None:
                writer.abandon()
                raise wt.error
            writer.count_dropped("camera", drops["camera"])
            for stream in ("joint_states", "ee_pose", "gripper"):
                writer.count_dropped(stream, drops["state"])
            if label == "discarded":
                writer.meta.extra["discarded"] = True
            return writer.close(None if label == "discarded" else label)

        path = wt.run_on_writer(close)
        if label == "discarded":
            kept = move_to_trash(path, self.dataset, f"{name}.discarded")
            return EpisodeRecord(name, "discarded", None, f"{name}  discarded (kept in {kept}); re-recording")
        return EpisodeRecord(name, label, path, self._summary_line(path, label))

    def _finish_interrupted(self, wt: _WriterThread, name: str, exc: BaseException) -> EpisodeRecord:
        def close(writer: EpisodeWriter) -> Path | None:
            if isinstance(exc, EpisodeError | OSError):
                writer.abandon()  # the disk refused writes: leave .partial for recovery
                return None
            writer.meta.incomplete = True
            writer.meta.extra["error"] = f"{type(exc).__name__}: {exc}"
            return writer.close()

        path = wt.run_on_writer(close)
        if path is None:
            raise exc
        self.say(f"{name} interrupted ({type(exc).__name__}: {exc}); kept, flagged incomplete")
        if not isinstance(exc, KeyboardInterrupt):
            raise exc
        return EpisodeRecord(name, "unlabeled", path, self._summary_line(path, "unlabeled"))

    def _summary_line(self, path: Path, label: str) -> str:
        info = summarize(path)
        cadence = info.cadence.summary() if info.cadence else info.problem
        return (
            f"{info.name}  {label:9s} {info.duration_s:6.2f} s  frames {info.counts.get('camera', 0):5d}  "
            f"states {info.counts.get('joint_states', 0):6d}  {cadence}"
        )
