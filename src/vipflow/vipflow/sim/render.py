"""Fast offscreen rendering of the kitchen on a CPU (Mesa llvmpipe or EGL).

Stock rendering takes ~400 ms per 224×224 frame on llvmpipe: the XML asks for a 2560×1920
offscreen buffer with 8× MSAA, and the default view casts shadows. A buffer sized to the frame,
no MSAA, and shadows/reflections switched off after every ``update_scene`` bring it to ~12 ms.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes.util
import os
import sys
import threading
import weakref


def configure_gl() -> str:
    """Pick a headless GL backend before mujoco is imported (it reads MUJOCO_GL at import).

    A user's explicit ``MUJOCO_GL`` wins; otherwise EGL when libEGL is present, else OSMesa.
    """
    if "MUJOCO_GL" not in os.environ and "mujoco" not in sys.modules:
        has_egl = ctypes.util.find_library("EGL") is not None
        has_osmesa = ctypes.util.find_library("OSMesa") is not None
        os.environ["MUJOCO_GL"] = "egl" if has_egl or not has_osmesa else "osmesa"
    backend = os.environ.get("MUJOCO_GL", "")
    if backend in ("egl", "osmesa"):
        os.environ.setdefault("PYOPENGL_PLATFORM", backend)
    return backend


configure_gl()

import mujoco  # noqa: E402  (after choosing the GL backend)
import numpy as np  # noqa: E402

from vipflow.sim.tasks import CameraView  # noqa: E402


class RenderError(RuntimeError):
    """Offscreen OpenGL is unavailable or failed."""


def prepare_model_for_rendering(model: mujoco.MjModel, size: int) -> None:
    """Shrink the offscreen buffer to the frame size and switch MSAA off (both cost ~30× speed)."""
    model.vis.global_.offwidth = size
    model.vis.global_.offheight = size
    model.vis.quality.offsamples = 0


def free_camera(view: CameraView, origin: np.ndarray) -> mujoco.MjvCamera:
    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.lookat[:] = np.asarray(origin) + np.asarray(view.lookat)
    cam.distance = view.distance
    cam.azimuth = view.azimuth
    cam.elevation = view.elevation
    return cam


class KitchenRenderer:
    """Renders square RGB frames from a free camera.

    A GL context belongs to the thread that made it current, and the runtime reads the camera
    from its perception thread, so each thread gets its own ``mujoco.Renderer``. ``lock`` guards
    the copy of the simulation state into the scene (physics may step in another thread).
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        size: int,
        view: CameraView,
        origin: np.ndarray,
        lock: threading.RLock,
    ):
        prepare_model_for_rendering(model, size)
        self._model = model
        self._size = size
        self._origin = np.array(origin, dtype=np.float64)
        self._camera = free_camera(view, self._origin)
        self._lock = lock
        self._local = threading.local()
        self._all: list[mujoco.Renderer] = []

    def _renderer(self) -> mujoco.Renderer:
        renderer = getattr(self._local, "renderer", None)
        if renderer is None:
            try:
                renderer = mujoco.Renderer(self._model, height=self._size, width=self._size)
            except Exception as exc:  # mujoco raises plain Exceptions from its GL layer
                raise RenderError(
                    f"cannot create an offscreen OpenGL context with MUJOCO_GL="
                    f"{os.environ.get('MUJOCO_GL')!r} ({exc}); set MUJOCO_GL=egl (Debian package "
                    "libegl1) or MUJOCO_GL=osmesa (libosmesa6) before anything imports mujoco"
                ) from exc
            self._local.renderer = renderer
            self._all.append(renderer)
            _close_at_exit(self)
        return renderer

    def set_view(self, view: CameraView) -> None:
        """Film from another free camera (relative to the same task site)."""
        with self._lock:
            self._camera = free_camera(view, self._origin)

    def capture(self, data: mujoco.MjData) -> mujoco.Renderer:
        """Copy the current state into this thread's scene; call with the simulation locked."""
        renderer = self._renderer()
        renderer.update_scene(data, camera=self._camera)
        flags = renderer.scene.flags
        flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        return renderer

    def render(self, data: mujoco.MjData) -> np.ndarray:
        """One (size, size, 3) uint8 RGB frame of the current state."""
        with self._lock:
            renderer = self.capture(data)
        return renderer.render().copy()

    def close(self) -> None:
        for renderer in self._all:
            _close_quietly(renderer)
        self._all.clear()
        self._local = threading.local()


_LIVE: weakref.WeakSet[KitchenRenderer] = weakref.WeakSet()


def _close_at_exit(renderer: KitchenRenderer) -> None:
    """Free GL contexts at exit *before* mujoco's EGL atexit hook terminates the display.

    atexit runs hooks last-in first-out and mujoco registers eglTerminate when the first
    context is made, so our hook must be registered after that (weakref.finalize's shared
    hook may already be registered earlier by another library, which would run too late).
    """
    if not _LIVE:
        atexit.unregister(_close_all)
        atexit.register(_close_all)
    _LIVE.add(renderer)


def _close_all() -> None:
    for renderer in list(_LIVE):
        renderer.close()


def _close_quietly(renderer: mujoco.Renderer) -> None:
    """Free a GL context; EGL complains harmlessly when it is freed from another thread."""
    with contextlib.suppress(Exception):  # a failed GL teardown must not mask the exit status
        renderer.close()
