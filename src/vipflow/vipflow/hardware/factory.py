"""One factory for cameras and robots: a small spec dataclass per driver, opened by driver name.

The driver names are the one vocabulary of the CLI (``vipflow record --source/--robot``,
``vipflow evaluate run --backend``), the recorder and evaluation:

==========  ============================  ===============================  ===============
driver      camera                        robot                            spec
==========  ============================  ===============================  ===============
fake        FakeCamera (moving square)    FakeRobot (reflexes, lag)        FakeSpec
replay      recorded frames (episode/mp4) recorded states (episode only)   ReplaySpec
realsense   RealSense colour stream       --                               RealSenseSpec
franky      --                            libfranka through franky         FrankySpec
sim         MuJoCo kitchen camera         MuJoCo kitchen Panda             SimulatorSpec
==========  ============================  ===============================  ===============

Specs are frozen dataclasses with typed, documented fields (``config_schema.option``), so YAML
files and ROS parameters can declare and fill them like every other config, and
``make_spec(driver, **options)`` builds one from a flat set of options (command-line flags,
node parameters), taking the fields the driver knows. A driver that serves both a camera and a
robot opens them together when ``open_hardware`` gets the same spec for both, so they share one
timeline (replay), one simulation (sim) or one clock (fake). Other packages can add drivers
with ``register_driver`` (extra keyword arguments of ``open_hardware`` reach the opener as
``context``). The ROS nodes' topic-fed camera and robot (``vipflow.ros.topic_hardware``) are not
drivers here: a node builds them itself, since its subscriptions feed them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from vipflow.config_schema import option
from vipflow.hardware.fake import FakeCamera, FakeRobot
from vipflow.hardware.franky import FrankyRobot
from vipflow.hardware.protocols import Camera, Clock, HardwareError, MonotonicClock, Robot
from vipflow.hardware.realsense import RealSenseCamera
from vipflow.hardware.replay import replay_episode, replay_video


@dataclass(frozen=True)
class FakeSpec:
    driver: ClassVar[str] = "fake"
    fps: float = option(30.0, "camera frame rate")
    width: int = option(128, "image width, pixels")
    height: int = option(96, "image height, pixels")


@dataclass(frozen=True)
class ReplaySpec:
    driver: ClassVar[str] = "replay"
    path: str = option("", "episode directory (camera and robot state) or video file (camera only)")
    speed: float = option(1.0, "playback speed (1 = recorded timing)")


@dataclass(frozen=True)
class RealSenseSpec:
    driver: ClassVar[str] = "realsense"
    width: int = option(640, "colour image width, pixels")
    height: int = option(480, "colour image height, pixels")
    fps: int = option(30, "camera frame rate")
    serial: str = option("", "camera serial number ('' = the only camera)")


@dataclass(frozen=True)
class FrankySpec:
    driver: ClassVar[str] = "franky"
    robot_ip: str = option("172.16.0.2", "FCI address of the robot (set in Desk)")
    relative_dynamics_factor: float = option(0.1, "franky's cap on velocity, acceleration and jerk (0..1]")
    gripper: bool = option(True, "drive the Franka Hand")


@dataclass(frozen=True)
class SimulatorSpec:
    driver: ClassVar[str] = "sim"
    task: str = option("slide_cabinet", "kitchen task (vipflow.sim.TASKS)")
    seed: int = option(0, "seed of the first reset")
    image_size: int = option(224, "camera image side, pixels")


@dataclass(frozen=True)
class Hardware:
    """What a driver opened: a camera and/or a robot, the clock they run on, and the simulation
    behind them when there is one (evaluation resets and judges it)."""

    camera: Camera | None
    robot: Robot | None
    clock: Clock
    sim: Any = None
    details: dict[str, Any] = field(default_factory=dict)


Opener = Callable[..., Hardware]  # (spec, clock, camera: bool, robot: bool, **context) -> Hardware


@dataclass(frozen=True)
class Driver:
    name: str
    spec: type
    open: Opener
    camera: bool  # provides a camera
    robot: bool  # provides a robot
    commanded: bool  # its robot executes targets (an evaluation backend), not only reports state
    help: str


DRIVERS: dict[str, Driver] = {}


def register_driver(driver: Driver) -> None:
    """Add a driver to the vocabulary (names are unique)."""
    if driver.name in DRIVERS:
        raise ValueError(f"hardware driver {driver.name!r} is already registered")
    DRIVERS[driver.name] = driver


def driver_names(*, camera: bool = False, robot: bool = False, commanded: bool = False) -> tuple[str, ...]:
    """Registered drivers that provide what is asked, for command-line choices."""
    return tuple(
        name for name, d in DRIVERS.items()
        if (d.camera or not camera) and (d.robot or not robot) and (d.commanded or not commanded)
    )


def get_driver(name: str) -> Driver:
    if name not in DRIVERS:
        raise HardwareError(f"unknown hardware driver {name!r}; choose one of {sorted(DRIVERS)}")
    return DRIVERS[name]


def make_spec(driver: str, **options: Any) -> Any:
    """The driver's spec from a flat set of options: fields it has are taken, ``None`` keeps the
    default, the rest is ignored (one set of flags serves every driver)."""
    cls = get_driver(driver).spec
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in options.items() if k in known and v is not None})


def open_hardware(
    camera: Any = None, robot: Any = None, *, clock: Clock | None = None, **context: Any
) -> Hardware:
    """Open the camera of spec ``camera`` and the robot of spec ``robot`` (either may be None).

    The same spec for both opens the driver once, so camera and robot share its timeline,
    simulation or clock; otherwise the robot runs on the camera's clock.
    """
    if camera is not None and robot is not None and camera == robot:
        return get_driver(camera.driver).open(camera, clock, True, True, **context)
    cam = _open_one(camera, clock, "camera", context) if camera is not None else None
    robot_clock = clock or (cam.clock if cam else None)
    rob = _open_one(robot, robot_clock, "robot", context) if robot is not None else None
    opened = [h for h in (cam, rob) if h is not None]
    if not opened:
        raise ValueError("open_hardware needs a camera spec, a robot spec, or both")
    return Hardware(
        camera=cam.camera if cam else None,
        robot=rob.robot if rob else None,
        clock=opened[0].clock,
        sim=next((h.sim for h in opened if h.sim is not None), None),
        details={k: v for h in opened for k, v in h.details.items()},
    )


def make_camera(spec: Any, *, clock: Clock | None = None, **context: Any) -> Camera:
    return open_hardware(camera=spec, clock=clock, **context).camera


def make_robot(spec: Any, *, clock: Clock | None = None, **context: Any) -> Robot:
    return open_hardware(robot=spec, clock=clock, **context).robot


def _open_one(spec: Any, clock: Clock | None, role: str, context: dict[str, Any]) -> Hardware:
    driver = get_driver(spec.driver)
    if not getattr(driver, role):
        offers = driver_names(camera=role == "camera", robot=role == "robot")
        raise HardwareError(f"driver {driver.name!r} has no {role}; {role} drivers: {', '.join(offers)}")
    return driver.open(spec, clock, role == "camera", role == "robot", **context)


# -- the built-in drivers --------------------------------------------------------------------------
def _open_fake(spec: FakeSpec, clock: Clock | None, camera: bool, robot: bool) -> Hardware:
    clock = clock or MonotonicClock()
    return Hardware(
        camera=FakeCamera(clock, fps=spec.fps, height=spec.height, width=spec.width) if camera else None,
        robot=FakeRobot(clock) if robot else None,
        clock=clock,
    )


def _open_replay(spec: ReplaySpec, clock: Clock | None, camera: bool, robot: bool) -> Hardware:
    path = Path(spec.path)
    if not spec.path or not path.exists():
        raise HardwareError(f"replay needs an episode directory or a video file, got {spec.path!r}")
    if path.is_dir():
        cam, rob = replay_episode(path, speed=spec.speed, clock=clock)
        return Hardware(cam if camera else None, rob if robot else None, cam.timeline.clock)
    if robot:
        raise HardwareError(
            f"replay robot needs a recorded episode directory; {path} is a video, which has no robot state"
        )
    cam = replay_video(path, speed=spec.speed, clock=clock)
    return Hardware(cam, None, cam.timeline.clock)


def _open_realsense(spec: RealSenseSpec, clock: Clock | None, camera: bool, robot: bool) -> Hardware:
    cam = RealSenseCamera(spec.width, spec.height, spec.fps, spec.serial or None)
    return Hardware(cam, None, MonotonicClock())  # frames are stamped on time.monotonic_ns


def _open_franky(spec: FrankySpec, clock: Clock | None, camera: bool, robot: bool) -> Hardware:
    rob = FrankyRobot(spec.robot_ip, clock=clock, relative_dynamics_factor=spec.relative_dynamics_factor,
                      gripper=spec.gripper)
    return Hardware(None, rob, rob.clock, details={"robot_ip": spec.robot_ip})


def _open_sim(spec: SimulatorSpec, clock: Clock | None, camera: bool, robot: bool) -> Hardware:
    from vipflow.sim import KitchenSim  # deferred: mujoco and gymnasium-robotics are the optional `sim` extra

    sim = KitchenSim(spec.task, seed=spec.seed, image_size=spec.image_size)
    return Hardware(sim.camera() if camera else None, sim.robot() if robot else None, sim.clock(), sim=sim)


for _driver in (
    Driver("fake", FakeSpec, _open_fake, camera=True, robot=True, commanded=True,
           help="fake camera and robot that behave like the hardware"),
    Driver("replay", ReplaySpec, _open_replay, camera=True, robot=True, commanded=False,
           help="a recorded episode or video, with its timing"),
    Driver("realsense", RealSenseSpec, _open_realsense, camera=True, robot=False, commanded=False,
           help="Intel RealSense through pyrealsense2"),
    Driver("franky", FrankySpec, _open_franky, camera=False, robot=True, commanded=True,
           help="Franka FR3/Panda through libfranka (franky)"),
    Driver("sim", SimulatorSpec, _open_sim, camera=True, robot=True, commanded=True,
           help="the MuJoCo FrankaKitchen simulator"),
):
    register_driver(_driver)
