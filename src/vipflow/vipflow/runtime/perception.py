"""Perception: camera frames -> embeddings, kept off the command path.

``ThreadedPerception`` reads and encodes in its own thread and publishes the newest result; the
control loop only takes a lock to read it, so encoder latency (≈80 ms for a ResNet-50 on one CPU
core) never delays a command. ``InlinePerception`` does the same work synchronously inside the
tick: right for a simulator whose clock does not advance while the encoder runs, and the naive
baseline the loop benchmark compares against.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vipflow.hardware import Camera, CameraTimeout, Clock, Frame, HardwareError


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
