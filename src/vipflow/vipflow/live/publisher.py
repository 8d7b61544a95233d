"""Live view: a Foxglove WebSocket server fed off the command path.

Callers (the control loop's ``on_tick``, the recorder's acquisition threads, `vipflow rewards`)
only *offer* items to a bounded queue: ``put_nowait``, and a full queue drops the item and counts
it. A forwarder thread passes them through a pipe to the publisher *process* (spawned), which
runs the Foxglove SDK's server and does all the work: JPEG encoding, JSON, protobuf. So the
25 Hz loop pays one queue insertion per tick and shares its GIL only with the forwarder's
pickling (as with the encoder process), never with the server; a slow or absent viewer never
makes it wait. Frames are only sent to the process while a viewer subscribes to the image.

Stamps: callers pass times on their own clock (monotonic on hardware, simulated time in the
simulator). ``sync_clock(now_ns)`` maps that clock onto wall time; a new rollout re-syncs, never
going back in time, so every topic's stamps increase across a whole session.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from vipflow.hardware import Frame, RobotState
from vipflow.live import topics as T

if TYPE_CHECKING:
    from vipflow.runtime.loop import TickRecord


class LiveError(RuntimeError):
    """The live server could not start (port taken, foxglove-sdk missing)."""


@dataclass(frozen=True)
class LiveConfig:
    host: str = "127.0.0.1"
    port: int = 8765  # 0: any free port
    queue_size: int = 512
    jpeg_quality: int = 80
    state_hz: float = 50.0  # robot states faster than this (1 kHz streams) are thinned for the viewer


@dataclass(frozen=True)
class TickView:
    """What the viewer shows of one control tick (times on the loop clock, ns)."""

    stamp_ns: int  # when the command (or hold) was issued
    frame: Frame | None
    state: RobotState | None
    space: str
    commanded: np.ndarray | None  # after the safety layer (zero step on hold)
    raw: np.ndarray | None  # the policy's output
    hold_reason: str | None
    value: float | None = None
    reward: float | None = None

    @classmethod
    def from_record(cls, rec: TickRecord, space: str, commanded: np.ndarray | None = None,
                    value: float | None = None, reward: float | None = None) -> TickView:
        """From the control loop's ``TickRecord`` (see `vipflow.runtime.loop`)."""
        frame = rec.observation.frame if rec.observation is not None else None
        return cls(rec.commanded_ns, frame, rec.state, space, commanded, rec.action, rec.hold_reason, value,
                   reward)


_STOP = ("stop",)


def _kind(hold_reason: str | None) -> str | None:
    """What kind of hold (the reason without its numbers), as the loop counts holds."""
    return None if hold_reason is None else hold_reason.split(":")[0]


def _vector(a: np.ndarray | None) -> list[float]:
    return [] if a is None else np.asarray(a, dtype=float).tolist()

_LEVELS = ("debug", "info", "warning", "error")


def _start_server(config: LiveConfig, name: str):
    try:
        import foxglove
        from foxglove.channels import CompressedImageChannel, LogChannel
    except ImportError as exc:  # pragma: no cover - foxglove-sdk is a dependency
        raise LiveError(f"--live needs foxglove-sdk ({exc}); pip install foxglove-sdk") from exc
    context = foxglove.Context()
    try:
        server = foxglove.start_server(name=name, host=config.host, port=config.port, context=context)
    except Exception as exc:  # the SDK raises a plain RuntimeError for a taken port
        raise LiveError(
            f"cannot start the live server on {config.host}:{config.port} ({exc}); pass another "
            "--live-port (0 picks a free one)"
        ) from exc
    channels: dict[str, Any] = {
        T.IMAGE: CompressedImageChannel(T.IMAGE, context=context),
        T.LOG: LogChannel(T.LOG, context=context),
    }
    for topic, schema in T.JSON_TOPICS.items():
        channels[topic] = foxglove.Channel(topic, schema=schema, context=context)
    return context, server, channels  # the context must outlive the server, or nothing is advertised


class LivePublisher:
    """The live server (in its own process) and the bounded queue feeding it. A context manager."""

    def __init__(self, config: LiveConfig | None = None, *, name: str = "vipflow",
                 say: Callable[[str], None] | None = print, startup_timeout_s: float = 60.0) -> None:
        self.config = config or LiveConfig()
        self.dropped = 0
        self.published = 0
        ctx = multiprocessing.get_context("spawn")
        self._image_wanted = ctx.Value("b", 0, lock=False)  # set by the server process
        recv_items, self._send = ctx.Pipe(duplex=False)
        self._replies, send_replies = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_serve, args=(self.config, name, recv_items, send_replies,
                                                      self._image_wanted), name="vipflow-live", daemon=True)
        self._proc.start()
        reply = self._reply(startup_timeout_s)
        if reply is None or reply[0] != "ready":
            self._proc.kill()
            raise LiveError(reply[1] if reply else "the live server process did not start in time")
        self.port = reply[1]
        self.url = f"ws://{self.config.host}:{self.port}"
        self._q: queue.Queue = queue.Queue(maxsize=self.config.queue_size)
        self._last_state_ns: int | None = None
        self._min_state_gap_ns = int(1e9 / self.config.state_hz) if self.config.state_hz > 0 else 0
        self._forwarder = threading.Thread(target=self._forward, name="live-forwarder", daemon=True)
        self._forwarder.start()
        if say is not None:
            say(f"live: Foxglove WebSocket server on {self.url} (Foxglove: Open connection -> "
                f"Foxglove WebSocket -> {self.url}; layout: vipflow live layout live)")

    # -- offering (any thread; never blocks) -------------------------------------------------------
    def _offer(self, item: tuple) -> None:
        try:
            self._q.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def sync_clock(self, now_ns: int) -> None:
        """Map the caller's clock (``now_ns`` = its current time) onto wall time from here on."""
        self._offer(("sync", now_ns, time.time_ns()))

    def frame(self, frame: Frame) -> None:
        self._offer(("frame", frame))

    def state(self, state: RobotState) -> None:
        last = self._last_state_ns
        if last is not None and 0 <= state.stamp_ns - last < self._min_state_gap_ns:
            return  # thinned: the viewer does not need 1 kHz
        self._last_state_ns = state.stamp_ns
        self._offer(("state", state))

    def reward(self, stamp_ns: int, value: float, reward: float, *, frame: int = -1, goal: str = "") -> None:
        self._offer(("reward", stamp_ns, float(value), float(reward), frame, goal))

    def tick(self, view: TickView) -> None:
        self._offer(("tick", view))

    def event(self, event: str, name: str, *, index: int = -1, label: str = "", detail: str = "",
              level: str = "info") -> None:
        """Episode/rollout boundary, also written to the status log."""
        self._offer(("event", event, name, index, label, detail, level))

    def log(self, text: str, level: str = "info") -> None:
        self._offer(("log", text, level))

    # -- the forwarder thread ------------------------------------------------------------------------
    def _forward(self) -> None:
        while True:
            item = self._q.get()
            if not self._image_wanted.value:  # nobody watches the camera: do not ship frames
                if item[0] == "frame":
                    continue
                if item[0] == "tick" and item[1].frame is not None:
                    item = ("tick", replace(item[1], frame=None))
            try:
                self._send.send(item)
            except (OSError, ValueError):  # the server process is gone
                self.dropped += 1
            if item[0] == "stop":
                return

    def _reply(self, timeout_s: float):
        try:
            return self._replies.recv() if self._replies.poll(timeout_s) else None
        except (EOFError, OSError):
            return None

    # -- lifecycle -----------------------------------------------------------------------------------
    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until the server process has published everything offered so far."""
        token = time.monotonic_ns()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                self._q.put(("flush", token), timeout=0.1)
                break
            except queue.Full:
                continue
        while (left := deadline - time.monotonic()) > 0:
            reply = self._reply(left)
            if reply is None:
                return
            if reply[0] == "flushed":
                self.published = reply[2]
                if reply[1] == token:
                    return

    def close(self) -> None:
        if not self._proc.is_alive():
            return
        self.flush()
        self._q.put(("stop",))
        self._forwarder.join(timeout=10.0)
        reply = self._reply(10.0)
        if reply is not None and reply[0] == "stopped":
            self.published = reply[1]
        self._proc.join(timeout=10.0)
        if self._proc.is_alive():
            self._proc.kill()

    def __enter__(self) -> LivePublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(config: LiveConfig, name: str, items, replies, image_wanted) -> None:
    """Body of the server process: start the server, then publish every item the pipe brings."""
    try:
        server = _Server(config, name)
    except LiveError as exc:
        replies.send(("error", str(exc)))
        return
    replies.send(("ready", server.port))
    image_channel = server.channels[T.IMAGE]
    while True:
        image_wanted.value = int(image_channel.has_sinks())
        if not items.poll(0.1):
            continue
        try:
            item = items.recv()
        except EOFError:  # the parent died
            break
        if item[0] == "stop":
            break
        if item[0] == "flush":
            replies.send(("flushed", item[1], server.published))
            continue
        try:
            server.handle(item)
        except Exception as exc:  # a bad item must not kill the viewer for the rest of the run
            print(f"live: could not publish {item[0]!r}: {type(exc).__name__}: {exc}")
    server.server.stop()
    replies.send(("stopped", server.published))


class _Server:
    """The Foxglove server and channels, and the per-topic state of what was published."""

    def __init__(self, config: LiveConfig, name: str) -> None:
        self.config = config
        self._context, self.server, self.channels = _start_server(config, name)
        self.port = self.server.port
        self.published = 0
        self._offset_ns = time.time_ns() - time.monotonic_ns()  # monotonic clock -> wall time
        self._last_topic_ns: dict[str, int] = {}
        self._last_wall_ns = 0
        self._last_frame_ns: int | None = None
        self._held_reason: str | None = None
        self._holds_in_row = self._holds_total = 0

    # -- publishing ----------------------------------------------------------------------------------
    def _wall(self, topic: str, clock_ns: int | None) -> int:
        """Wall-time stamp for ``topic``: strictly increasing per topic."""
        ns = time.time_ns() if clock_ns is None else clock_ns + self._offset_ns
        last = self._last_topic_ns.get(topic)
        if last is not None and ns <= last:
            ns = last + 1
        self._last_topic_ns[topic] = ns
        self._last_wall_ns = max(self._last_wall_ns, ns)
        return ns

    def _json(self, topic: str, clock_ns: int | None, **fields: Any) -> None:
        ns = self._wall(topic, clock_ns)
        self.channels[topic].log({"timestamp": T.stamp(ns), **fields}, log_time=ns)
        self.published += 1

    def _log(self, text: str, level: str, wall_ns: int | None = None) -> None:
        from foxglove.messages import Log, LogLevel, Timestamp

        ns = self._wall(T.LOG, None if wall_ns is None else wall_ns - self._offset_ns)
        lvl = {"debug": LogLevel.Debug, "info": LogLevel.Info, "warning": LogLevel.Warning,
               "error": LogLevel.Error}[level]
        msg = Log(timestamp=Timestamp(ns // 1_000_000_000, ns % 1_000_000_000), level=lvl, message=text,
                  name="vipflow")
        self.channels[T.LOG].log(msg, log_time=ns)
        self.published += 1

    def _image(self, frame: Frame) -> None:
        if frame.stamp_ns == self._last_frame_ns:
            return
        self._last_frame_ns = frame.stamp_ns
        channel = self.channels[T.IMAGE]
        if not channel.has_sinks():
            return  # nobody watches: skip the JPEG encoding
        from foxglove.messages import CompressedImage, Timestamp

        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, self.config.jpeg_quality])
        if not ok:
            return
        ns = self._wall(T.IMAGE, frame.stamp_ns)
        msg = CompressedImage(timestamp=Timestamp(ns // 1_000_000_000, ns % 1_000_000_000),
                              frame_id="camera", data=jpeg.tobytes(), format="jpeg")
        channel.log(msg, log_time=ns)
        self.published += 1

    def _state(self, s: RobotState) -> None:
        self._json(T.ROBOT_STATE, s.stamp_ns, joint_position=_vector(s.joint_pos),
                   joint_velocity=_vector(s.joint_vel), ee_position=_vector(s.ee_pose[:3]),
                   ee_orientation=_vector(s.ee_pose[3:]), gripper_width=float(s.gripper_width))

    def _tick(self, v: TickView) -> None:
        if v.frame is not None:
            self._image(v.frame)
        if v.state is not None:
            self._state(v.state)
        held = v.hold_reason is not None
        self._json(T.ACTION, v.stamp_ns, space=v.space, commanded=_vector(v.commanded), raw=_vector(v.raw),
                   held=held)
        if held:
            self._holds_in_row += 1
            self._holds_total += 1
            if _kind(v.hold_reason) != _kind(self._held_reason):  # one line per kind, not per age
                self._log(f"hold: {v.hold_reason}", "warning", v.stamp_ns + self._offset_ns)
        elif self._held_reason is not None:
            self._log(f"moving again after {self._holds_in_row} held tick(s)", "info",
                      v.stamp_ns + self._offset_ns)
            self._holds_in_row = 0
        self._held_reason = v.hold_reason
        self._json(T.SAFETY, v.stamp_ns, held=held, reason=v.hold_reason or "",
                   holds_in_row=self._holds_in_row, holds_total=self._holds_total)
        if v.value is not None:
            self._json(T.REWARD, v.stamp_ns, value=v.value, reward=v.reward or 0.0, frame=-1, goal="")

    def _event(self, event: str, name: str, index: int, label: str, detail: str, level: str) -> None:
        ns = max(time.time_ns(), self._last_wall_ns + 1)  # after everything of the episode
        self._json(T.EVENT, ns - self._offset_ns, event=event, name=name, index=index, label=label,
                   detail=detail)
        what = event.replace("_", " ")
        text = f"{name}: {what}" + (f" ({label})" if label else "") + (f": {detail}" if detail else "")
        self._log(text, level, ns)
        if event.endswith("start"):
            self._held_reason, self._holds_in_row = None, 0

    def handle(self, item: tuple) -> None:
        kind = item[0]
        if kind == "tick":
            self._tick(item[1])
        elif kind == "frame":
            self._image(item[1])
        elif kind == "state":
            self._state(item[1])
        elif kind == "reward":
            _, ns, value, reward, frame, goal = item
            self._json(T.REWARD, ns, value=value, reward=reward, frame=frame, goal=goal)
        elif kind == "event":
            self._event(*item[1:])
        elif kind == "log":
            self._log(item[1], item[2] if item[2] in _LEVELS else "info")
        elif kind == "sync":
            _, clock_now, wall_now = item
            self._offset_ns = max(wall_now, self._last_wall_ns + 1) - clock_now
            self._last_frame_ns = None  # a new clock: the same stamp is a new frame
