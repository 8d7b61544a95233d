"""The camera node's work without rclpy: open a vipflow camera and pump its frames as Image CDR.

Backends: a RealSense through pyrealsense2 (the factory's ``realsense`` driver: use it instead
of realsense2_camera when the ROS driver is not installed or misbehaves; never both on one
device), or a replay of an mp4 / recorded episode with its original timing (dry runs, tests).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from demo_recorder.params import CameraNodeParams
from vipflow.hardware import Camera, CameraTimeout, HardwareError
from vipflow.hardware.factory import RealSenseSpec, ReplaySpec, make_camera
from vipflow.hardware.replay import ReplayFinished
from vipflow.ros.topic_hardware import Clocks, image_cdr


def open_camera(p: CameraNodeParams) -> Camera:
    """The node's camera through vipflow's hardware factory (its ``realsense`` and ``replay`` drivers)."""
    if p.backend == "pyrealsense2":
        return make_camera(RealSenseSpec(width=p.width, height=p.height, fps=p.fps, serial=p.serial))
    path = Path(p.replay_path).expanduser()
    if not p.replay_path or not path.exists():  # named with the node's parameter
        raise HardwareError(
            f"replay_path {p.replay_path!r} does not exist; give an mp4 file or an episode directory"
        )
    return make_camera(ReplaySpec(path=str(path)))


class CameraPump(Clocks):
    """Thread: frames -> ``publish(image CDR)``; a replay restarts at its end when ``loop``."""

    def __init__(
        self,
        params: CameraNodeParams,
        publish: Callable[[bytes], None],
        on_error: Callable[[str], None],
        *,
        ros_now_ns: Callable[[], int] | None = None,
        open_fn: Callable[[CameraNodeParams], Camera] = open_camera,
    ) -> None:
        super().__init__(ros_now_ns, None)
        self.params, self.publish, self.on_error, self.open_fn = params, publish, on_error, open_fn
        self.camera = open_fn(params)
        self.published = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="camera-pump", daemon=True)

    def start(self) -> None:
        self.camera.start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self.camera.stop()

    def _run(self) -> None:
        silent = False
        while not self._stop.is_set():
            try:
                frame = self.camera.read(self.params.read_timeout_s)
            except ReplayFinished:
                if not self.params.replay_loop:
                    self.on_error("replay finished")
                    return
                self.camera.stop()
                self.camera = self.open_fn(self.params)
                self.camera.start()
                continue
            except CameraTimeout as exc:
                if not silent:
                    self.on_error(str(exc))
                silent = True
                continue
            except HardwareError as exc:
                self.on_error(f"camera stopped: {exc}")
                return
            silent = False
            self.publish(image_cdr(frame, self.ros_stamp(frame.stamp_ns)))
            self.published += 1
