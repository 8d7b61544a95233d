"""FrankaKitchen at 25 Hz as a camera, a robot and a clock, so the core drives it like hardware.

We build the kitchen with gymnasium-robotics (its model, initial state and task definitions)
but never call ``env.step``: its 9-D velocity action is a 12.5 Hz, noisy-observation control
scheme we do not want. Instead each 40 ms control period applies an absolute ``RobotTarget``
through :mod:`vipflow.sim.control` and runs 20 physics substeps of 2 ms.

Time is simulated: it advances only when the physics steps (``Robot.send`` steps one period;
``Clock.sleep_until`` steps, holding the last command, until the requested time). A control
loop written for the real robot therefore runs unchanged here, faster than real time.

Kinesthetic recording has no commands, only a hand moving the arm. Here the hand is a *driver*
(a scripted expert, see :mod:`vipflow.sim.experts`): when one is set, every period in which no
one called ``send`` is driven by it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import mujoco
import numpy as np

from vipflow.hardware import CameraTimeout, RobotError, RobotState, RobotTarget
from vipflow.hardware.franka import FINGER_MAX_M
from vipflow.hardware.simulator import SimCamera, SimClock, SimRobot
from vipflow.sim.control import (
    N_ARM,
    LeadConfig,
    ServoConfig,
    TrackingLead,
    ik_step,
    servo_command,
    site_pose,
    solve_ik,
)
from vipflow.sim.render import KitchenRenderer
from vipflow.sim.tasks import CameraView, KitchenEnv, KitchenTask, get_task

CONTROL_RATE_HZ = 25.0
PERIOD_NS = 40_000_000
SUBSTEPS = 20  # 2 ms MuJoCo timestep x 20 = 40 ms
START_NS = 1_000_000_000  # simulated time starts at 1 s (a 0 stamp reads as "unset" in ROS tools)

Driver = Callable[["KitchenSim"], RobotTarget]


class KitchenSim:
    """One simulated kitchen task.

    ``KitchenSim("slide_cabinet", seed=0, image_size=224)``; ``.camera()``, ``.robot()`` and
    ``.clock()`` return the hardware backends; ``.success()`` tells whether the task is done;
    ``.reset(seed)`` starts a new episode with the gripper near the task. Thread-safe: the
    runtime's perception thread may read the camera while the control thread steps.
    """

    def __init__(
        self,
        task: str,
        seed: int | None = 0,
        image_size: int = 224,
        *,
        servo: ServoConfig | None = None,
        lead: LeadConfig | None = None,
        view: CameraView | None = None,
    ):
        self.task: KitchenTask = get_task(task)
        self.image_size = int(image_size)
        if not 16 <= self.image_size <= 1024:
            raise ValueError(f"image_size must be within 16..1024 pixels, got {image_size}")
        self.servo = servo or ServoConfig()
        # Constructing the stock env gives the canonical model and initial state; we step it ourselves.
        self._env = KitchenEnv(tasks_to_complete=[self.task.kitchen_name])
        self.model: mujoco.MjModel = self._env.model
        self.data: mujoco.MjData = self._env.data
        self._init_qpos = np.array(self._env.robot_env.init_qpos, dtype=np.float64)
        self._ee_site = self.model.site("end_effector").id
        self._task_site = self.model.site(self.task.site).id
        self._lock = threading.RLock()
        self._stepped = threading.Condition(self._lock)
        self._t_ns = START_NS
        self._steps = 0
        self._driver: Driver | None = None
        self._lead = TrackingLead(lead)
        mujoco.mj_forward(self.model, self.data)
        origin = self.data.site_xpos[self._task_site]
        self._renderer = KitchenRenderer(
            self.model, self.image_size, view or self.task.view, origin, self._lock
        )
        self._seed_rng = np.random.default_rng(seed)
        self.home_ee_pose = np.zeros(7)
        self.reset(seed)

    # --- episode -------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """Stock kitchen state, then the arm placed by IK so the gripper sits near the task.

        ``seed`` fixes the jitter (same seed, same start); ``None`` draws the next one.
        """
        if seed is None:
            seed = int(self._seed_rng.integers(2**31))
        rng = np.random.default_rng(seed)
        with self._lock:
            mujoco.mj_resetData(self.model, self.data)
            self.data.qpos[:] = self._init_qpos
            self.data.qvel[:] = 0.0
            mujoco.mj_forward(self.model, self.data)
            self.home_ee_pose = site_pose(self.model, self.data, self._ee_site)
            noise = rng.uniform(-self.task.reset_noise, self.task.reset_noise, size=3)
            start = self.home_ee_pose.copy()
            start[:3] = self.data.site_xpos[self._task_site] + np.asarray(self.task.reset_offset) + noise
            if not self._place_arm(start):
                raise RobotError(f"reset for {self.task.name}: no arm pose reaches {start[:3]}")
            finger = FINGER_MAX_M if self.task.gripper_open else 0.0
            self.data.qpos[N_ARM : N_ARM + 2] = finger
            mujoco.mj_forward(self.model, self.data)
            self._hold_here(finger)
            self._steps += 1  # a reset is a new scene: the camera has a fresh frame to give
            self._stepped.notify_all()

    def _place_arm(self, pose: np.ndarray) -> bool:
        """IK from the task's posture, else the home pose, else jittered postures. Joints stay
        0.05 rad inside their limits unless only a pose at a limit exists (rare draws at the
        edge of the reach)."""
        home = self.data.qpos[:N_ARM].copy()
        seeds = [np.asarray(self.task.posture)] if self.task.posture is not None else []
        seeds.append(home)
        rng = np.random.default_rng(0)  # fixed: the same start pose always gets the same arm pose
        seeds += [seeds[0] + rng.normal(0.0, 0.3, N_ARM) for _ in range(6)]
        for margin in (0.05, 0.0):
            for seed in seeds:
                self.data.qpos[:N_ARM] = seed
                if solve_ik(self.model, self.data, self._ee_site, pose, self.servo, limit_margin=margin):
                    return True
        return False

    def success(self) -> bool:
        """FrankaKitchen's success test for this task on the current (noise-free) state."""
        with self._lock:
            return self.task.is_success(self.data.qpos)

    def site_position(self, name: str) -> np.ndarray:
        with self._lock:
            return self.data.site(name).xpos.copy()

    def joint_anchor(self, joint: str) -> tuple[np.ndarray, np.ndarray]:
        """World position and axis of a hinge (the experts pull doors along its arc)."""
        with self._lock:
            j = self.model.joint(joint).id
            return self.data.xanchor[j].copy(), self.data.xaxis[j].copy()

    # --- stepping ------------------------------------------------------------------------
    def set_driver(self, driver: Driver | None) -> None:
        """Who moves the arm when nobody sends a command (the hand in kinesthetic teaching)."""
        self._driver = driver

    def now_ns(self) -> int:
        return self._t_ns

    @property
    def steps(self) -> int:
        return self._steps

    def step(self, target: RobotTarget | None = None) -> None:
        """Advance one 40 ms control period with the *hand* moving the arm toward ``target``
        (the driver's if None, else holding the last servo targets): kinesthetic teaching,
        where no robot controller tracks anything. The robot's commands go through ``command``.
        """
        with self._lock:
            if target is None and self._driver is not None:
                target = self._driver(self)
            self._lead.idle()
            if target is not None:
                self._apply(target, lead=False)
            self._advance()

    def command(self, target: RobotTarget) -> None:
        """One control period of the robot's controller tracking ``target`` (``Robot.send``):
        the hand's servo law plus integral action on the tracking error (``TrackingLead``)."""
        with self._lock:
            self._apply(target, lead=True)
            self._advance()

    def _advance(self) -> None:
        mujoco.mj_step(self.model, self.data, nstep=SUBSTEPS)
        self._t_ns += PERIOD_NS
        self._steps += 1
        self._stepped.notify_all()

    def _apply(self, target: RobotTarget, *, lead: bool) -> None:
        values = [target.gripper_width, target.ee_pose, target.joint_pos]
        if not all(np.all(np.isfinite(v)) for v in values if v is not None):
            raise RobotError("simulated Franka refused a target with NaN/inf values; filter commands first")
        if target.ee_pose is not None:
            pose = np.asarray(target.ee_pose, dtype=np.float64)
            if pose.shape != (7,):
                raise RobotError(f"ee_pose target must be [x,y,z,qx,qy,qz,qw], got shape {pose.shape}")
            pose[3:] /= np.linalg.norm(pose[3:])
            if lead:
                pose = self._lead.aim(site_pose(self.model, self.data, self._ee_site), pose, pose=True)
            step = ik_step(self.model, self.data, self._ee_site, pose, self.servo)
        else:
            joints = np.asarray(target.joint_pos, dtype=np.float64)
            if joints.shape != (N_ARM,):
                raise RobotError(f"joint_pos target must have 7 values, got shape {joints.shape}")
            if lead:
                joints = self._lead.aim(self.data.qpos[:N_ARM].copy(), joints, pose=False)
            step = joints - self.data.qpos[:N_ARM]
        period_s = PERIOD_NS / 1e9
        self.data.ctrl[:N_ARM] = servo_command(self.model, self.data, step, period_s, self.servo)
        finger = float(np.clip(target.gripper_width / 2.0, 0.0, FINGER_MAX_M))
        self.data.ctrl[N_ARM : N_ARM + 2] = finger

    def _hold_here(self, finger: float | None = None) -> None:
        self._lead.reset()
        step = np.zeros(N_ARM)
        self.data.ctrl[:N_ARM] = servo_command(self.model, self.data, step, PERIOD_NS / 1e9, self.servo)
        if finger is not None:
            self.data.ctrl[N_ARM : N_ARM + 2] = finger

    def hold(self) -> None:
        """Servo to the current joint positions (stop moving)."""
        with self._lock:
            self._hold_here()

    # --- readouts ------------------------------------------------------------------------
    def state(self) -> RobotState:
        with self._lock:
            return RobotState(
                stamp_ns=self._t_ns,
                joint_pos=self.data.qpos[:N_ARM].copy(),
                joint_vel=self.data.qvel[:N_ARM].copy(),
                ee_pose=site_pose(self.model, self.data, self._ee_site),
                gripper_width=float(self.data.qpos[N_ARM] + self.data.qpos[N_ARM + 1]),
            )

    def set_view(self, view: CameraView | None = None) -> None:
        """Film from ``view`` (relative to the task site; None: the task's own view)."""
        self._renderer.set_view(view or self.task.view)

    def render(self) -> np.ndarray:
        """The current camera image, (S, S, 3) uint8 RGB."""
        return self._renderer.render(self.data)

    def wait_frame(self, after_step: int, timeout_s: float) -> tuple[int, int, np.ndarray]:
        """Block until the physics has moved past ``after_step``; return (step, stamp, image)."""
        with self._stepped:
            if not self._stepped.wait_for(lambda: self._steps > after_step, timeout=timeout_s):
                raise CameraTimeout(
                    f"simulated camera: no new frame in {timeout_s:.2f} s because the simulation did "
                    "not step; call robot.send() or clock.sleep_until() to advance it"
                )
            step, stamp = self._steps, self._t_ns
            renderer = self._renderer.capture(self.data)
        return step, stamp, renderer.render().copy()

    # --- backends ------------------------------------------------------------------------
    def camera(self) -> SimCamera:
        return SimCamera(self)

    def robot(self) -> SimRobot:
        return SimRobot(self)

    def clock(self) -> SimClock:
        return SimClock(self)

    def close(self) -> None:
        self._renderer.close()

    def __enter__(self) -> KitchenSim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
