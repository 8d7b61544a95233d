"""Perception: camera frames -> embeddings, kept off the command path.

``ThreadedPerception`` reads and encodes in its own thread and publishes the newest result; the
control loop only takes a lock to read it, so encoder latency (≈80 ms for a ResNet-50 on one CPU
core) never delays a command. ``ProcessPerception`` moves the encoder into its own process as
well, so not even the encoder's share of the GIL can delay the control thread.
``InlinePerception`` does the same work synchronously inside the
tick: right for a simulator whose clock does not advance while the encoder runs, and the naive
baseline the loop benchmark compares against.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vipflow.hardware import Camera, CameraTimeout, Clock, Frame, HardwareError

WARM_UP_FRAME = (64, 64, 3)  # any size: the encoder's transform resizes to its input resolution


class EncoderLike(Protocol):
    """What perception needs of an encoder (``vipflow.encoders.Encoder`` fits)."""

    def embed_images(
        self, frames: np.ndarray, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray: ...


@dataclass(frozen=True)
class Observation:
    """An encoded frame. ``ready_ns``: when the embedding became available (loop clock);
    ``encode_latency_ns``: the encoder's wall-clock compute time."""

    frame: Frame
    embedding: np.ndarray
    ready_ns: int
    encode_latency_ns: int


class Perception(Protocol):
    error: BaseException | None

    def start(self) -> None: ...

    def latest(self) -> Observation | None: ...

    def take_encoder_latencies_ms(self) -> list[float]: ...

    def stop(self) -> None: ...


def warm_up(encoder: EncoderLike) -> None:
    """One throw-away batch-1 encode on the calling thread, with its torch thread count.

    The first encode after a change of thread count (or the first call of a compiled runtime)
    selects kernels: 200-250 ms measured in the evaluate node, where it delayed the first
    rollout's frames past the 4-period gap `vipflow episodes validate` fails. Done before the
    loop's first tick waits for an observation, it costs start-up time instead.
    """
    encoder.embed_images(np.zeros((1, *WARM_UP_FRAME), dtype=np.uint8), batch_size=1)


class _Encoding:
    """Shared by both perception modes: encode one frame, keep latency samples."""

    def __init__(self, encoder: EncoderLike, clock: Clock) -> None:
        self.encoder = encoder
        self.clock = clock
        self._latencies_ms: list[float] = []
        self._lat_lock = threading.Lock()

    def encode(self, frame: Frame) -> Observation:
        # Latency is compute time, so wall time even when the loop runs on a simulated clock.
        t0 = time.perf_counter_ns()
        emb = np.asarray(self.encoder.embed_images(frame.rgb[None], batch_size=1), dtype=np.float32)[0]
        latency = time.perf_counter_ns() - t0
        with self._lat_lock:
            self._latencies_ms.append(latency / 1e6)
        return Observation(frame, emb, ready_ns=self.clock.now_ns(), encode_latency_ns=latency)

    def take_encoder_latencies_ms(self) -> list[float]:
        with self._lat_lock:
            out, self._latencies_ms = self._latencies_ms, []
        return out


class ThreadedPerception(_Encoding):
    """Camera read + encode in a daemon thread; ``latest()`` returns the newest observation.

    ``torch_threads`` (default 1) caps torch's intra-op threads so the encoder cannot starve the
    control thread of CPU; ``None`` leaves torch alone.
    """

    def __init__(
        self,
        camera: Camera,
        encoder: EncoderLike,
        clock: Clock,
        *,
        read_timeout_s: float = 0.2,
        torch_threads: int | None = 1,
    ) -> None:
        super().__init__(encoder, clock)
        self.camera = camera
        self.read_timeout_s = read_timeout_s
        self.torch_threads = torch_threads
        self.error: BaseException | None = None
        self.timeouts = 0
        self._latest: Observation | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.torch_threads is not None:
            import torch

            torch.set_num_threads(self.torch_threads)
        self._stop.clear()
        self.error = None
        self._latest = None
        self._thread = threading.Thread(target=self._run, name="vipflow-perception", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            warm_up(self.encoder)
        except Exception as exc:  # a broken encoder fails here, before the first tick
            self.error = exc
            return
        while not self._stop.is_set():
            try:
                frame = self.camera.read(timeout_s=self.read_timeout_s)
            except CameraTimeout:
                self.timeouts += 1
                continue
            except HardwareError as exc:
                self.error = exc  # the loop's watchdog reports it once frames go stale
                return
            try:
                obs = self.encode(frame)
            except Exception as exc:  # an encoder bug must surface, not freeze the embedding
                self.error = exc
                return
            with self._lock:
                self._latest = obs

    def latest(self) -> Observation | None:
        with self._lock:
            return self._latest

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.read_timeout_s + 5.0)
            self._thread = None


class InlinePerception(_Encoding):
    """Read + encode on the caller's thread at every ``latest()`` call.

    With ``read_timeout_s=0`` a tick never waits for the camera: when no new frame is ready the
    previous observation is returned (and ages), exactly like the threaded mode.
    """

    def __init__(self, camera: Camera, encoder: EncoderLike, clock: Clock, *, read_timeout_s: float = 0.0):
        super().__init__(encoder, clock)
        self.camera = camera
        self.read_timeout_s = read_timeout_s
        self.error: BaseException | None = None
        self.timeouts = 0
        self._latest: Observation | None = None

    def start(self) -> None:
        self.error = None
        self._latest = None

    def latest(self) -> Observation | None:
        if self.error is not None:
            return self._latest
        try:
            self._latest = self.encode(self.camera.read(timeout_s=self.read_timeout_s))
        except CameraTimeout:
            self.timeouts += 1
        except HardwareError as exc:
            self.error = exc
        return self._latest

    def stop(self) -> None:
        pass


class EncoderWorkerError(RuntimeError):
    """The encoder process failed to start or died; the message carries its error."""


def _encoder_worker(factory: Callable[[], EncoderLike], torch_threads: int | None, conn) -> None:
    """Body of the encoder process: build the encoder, then embed every batch it is sent.

    Ctrl-C reaches the whole foreground process group; the parent answers it with a safe stop and
    then closes the pipe, which ends this process. Dying on the signal first would fail the frames
    of the parent's last ticks and print a traceback, so SIGINT is ignored here.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if torch_threads is not None:
            import torch

            torch.set_num_threads(torch_threads)
        encoder = factory()
        warm_up(encoder)
        conn.send("ready")
    except Exception as exc:
        conn.send(f"error: {type(exc).__name__}: {exc}")
        return
    while True:
        try:
            frames = conn.recv()
        except EOFError:
            return
        if frames is None:
            return
        try:
            conn.send(np.asarray(encoder.embed_images(frames, batch_size=len(frames)), dtype=np.float32))
        except Exception as exc:
            conn.send(f"error: {type(exc).__name__}: {exc}")


class RemoteEncoder:
    """An encoder living in its own process (spawned): no GIL shared with the control loop.

    ``factory`` must be picklable, e.g. ``functools.partial(load_encoder, "vip", weights,
    arch="resnet50")``. The process starts on first use and lives until ``close()``.
    """

    def __init__(
        self, factory: Callable[[], EncoderLike], *, torch_threads: int | None = 1,
        startup_timeout_s: float = 300.0, call_timeout_s: float = 30.0,
    ) -> None:
        self.factory = factory
        self.torch_threads = torch_threads
        self.startup_timeout_s = startup_timeout_s
        self.call_timeout_s = call_timeout_s
        self._proc = None
        self._conn = None
        self._lock = threading.Lock()

    def start(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            return
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_encoder_worker, args=(self.factory, self.torch_threads, child), name="vipflow-encoder",
            daemon=True,
        )
        self._proc.start()
        child.close()
        self._expect_ready()

    def _expect_ready(self) -> None:
        if not self._conn.poll(self.startup_timeout_s):
            self.close()
            raise EncoderWorkerError(f"encoder process did not start within {self.startup_timeout_s:.0f} s")
        msg = self._conn.recv()
        if msg != "ready":
            self.close()
            raise EncoderWorkerError(f"encoder process failed to start: {msg}")

    def embed_images(self, frames: np.ndarray, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        with self._lock:
            if self._proc is None or not self._proc.is_alive():
                raise EncoderWorkerError("encoder process is not running; call start() (or it died)")
            self._conn.send(np.ascontiguousarray(frames))
            if not self._conn.poll(self.call_timeout_s):
                raise EncoderWorkerError(f"encoder process did not answer within {self.call_timeout_s:.0f} s")
            msg = self._conn.recv()
        if isinstance(msg, str):
            raise EncoderWorkerError(f"encoder process: {msg}")
        return msg

    def close(self) -> None:
        with self._lock:
            if self._proc is None:
                return
            with contextlib.suppress(OSError, ValueError):
                self._conn.send(None)
            self._proc.join(timeout=5.0)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(timeout=5.0)
            self._conn.close()
            self._proc = self._conn = None


class ProcessPerception(ThreadedPerception):
    """Threaded perception whose encoder runs in a separate process.

    The reader thread only moves frames and embeddings through a pipe (the GIL is free while it
    waits), so the encoder's Python overhead can never delay the control thread — the robust
    choice on a small, busy CPU. Call ``close()`` when done with the loop (ends the process).
    """

    def __init__(
        self, camera: Camera, encoder_factory: Callable[[], EncoderLike], clock: Clock, *,
        read_timeout_s: float = 0.2, torch_threads: int | None = 1,
    ) -> None:
        super().__init__(
            camera, RemoteEncoder(encoder_factory, torch_threads=torch_threads), clock,
            read_timeout_s=read_timeout_s, torch_threads=None,
        )

    def start(self) -> None:
        self.encoder.start()
        super().start()

    def close(self) -> None:
        self.stop()
        self.encoder.close()
