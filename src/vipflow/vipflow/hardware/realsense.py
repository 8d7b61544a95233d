"""Intel RealSense colour camera through pyrealsense2 (imported only when a camera is used).

Stamps: RealSense frames carry a host-synchronised ("global time") or host arrival ("system
time") timestamp in UNIX milliseconds; we convert it to ``time.monotonic_ns`` so it shares a
clock with the robot state. A device clock without host sync falls back to the arrival time.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from vipflow.hardware.protocols import CameraTimeout, Frame, HardwareError


def _import_rs() -> Any:
    try:
        import pyrealsense2 as rs
    except ImportError as exc:
        raise HardwareError(
            "pyrealsense2 is not installed, so no RealSense camera can be opened. Install it with "
            "`pip install 'vipflow[realsense]'` (x86_64/aarch64 wheels; on other platforms build "
            "librealsense with Python bindings), or record from the simulator or a replay source"
        ) from exc
    return rs


class RealSenseCamera:
    """``vipflow.hardware.Camera`` for the colour stream of a RealSense (D4xx/D405)."""

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: int = 30,
        serial: str | None = None,
        warmup_frames: int = 15,
    ) -> None:
        self.width, self.height, self.fps, self.serial = width, height, fps, serial
        self.warmup_frames = warmup_frames
        self._rs: Any = None
        self._pipe: Any = None
        self._info: dict[str, Any] = {}
        self._last_number: int | None = None
        self.frames_skipped = 0  # gaps in the device's frame counter

    def describe(self) -> dict[str, Any]:
        return {
            "model": "realsense",
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            **self._info,
        }

    def start(self) -> None:
        rs = self._rs = _import_rs()
        cfg = rs.config()
        if self.serial:
            cfg.enable_device(self.serial)
        cfg.enable_stream(rs.stream.color, self.width, self.height, rs.format.rgb8, self.fps)
        pipe = rs.pipeline()
        try:
            profile = pipe.start(cfg)
        except RuntimeError as exc:
            raise HardwareError(
                f"RealSense {self.serial or '(any)'} could not start {self.width}x{self.height} rgb8 at "
                f"{self.fps} Hz: {exc}. Check the USB 3 connection (`rs-enumerate-devices`), that no other "
                "process (realsense-ros) holds the camera, and that the profile exists for this model"
            ) from exc
        self._pipe = pipe
        dev = profile.get_device()
        for key, name in (("name", "name"), ("serial", "serial_number"), ("firmware", "firmware_version")):
            try:
                self._info[key] = dev.get_info(getattr(rs.camera_info, name))
            except (RuntimeError, AttributeError):
                continue
        for _ in range(self.warmup_frames):  # let auto-exposure settle
            self.read(timeout_s=5.0)
        self.frames_skipped = 0

    def read(self, timeout_s: float = 1.0) -> Frame:
        if self._pipe is None:
            raise HardwareError("RealSense camera: read() before start()")
        ok, frames = self._pipe.try_wait_for_frames(int(timeout_s * 1000))
        arrival = time.monotonic_ns()
        if not ok:
            raise CameraTimeout(
                f"RealSense: no frame within {timeout_s:.2f} s (USB bandwidth, cable, or another process "
                "using the camera); `rs-enumerate-devices` lists connected cameras"
            )
        color = frames.get_color_frame()
        number = int(color.get_frame_number())
        if self._last_number is not None and number > self._last_number + 1:
            self.frames_skipped += number - self._last_number - 1
        self._last_number = number
        rgb = np.asanyarray(color.get_data()).copy()
        return Frame(stamp_ns=self._stamp(color, arrival), rgb=rgb)

    def _stamp(self, color: Any, arrival_ns: int) -> int:
        domain = color.get_frame_timestamp_domain()
        host_domains = (self._rs.timestamp_domain.global_time, self._rs.timestamp_domain.system_time)
        if domain in host_domains:
            stamp = round(color.get_timestamp() * 1e6) - (time.time_ns() - time.monotonic_ns())
            if abs(stamp - arrival_ns) < 1_000_000_000:  # sane: within a second of arrival
                return min(stamp, arrival_ns)
        return arrival_ns

    def stop(self) -> None:
        if self._pipe is not None:
            self._pipe.stop()
            self._pipe = None
