"""libfranka through franky (no ROS) as a ``vipflow.hardware.Robot``.

Each 25 Hz target becomes an asynchronous franky motion (``CartesianMotion`` on the end-effector
pose O_T_EE, or ``JointMotion``) that preempts the previous one; franky's Ruckig generator turns
the 40 ms steps into a jerk-limited 1 kHz trajectory, so raw steps never reach the robot (the
discontinuity reflexes of franka_ros2#55/#91). ``relative_dynamics_factor`` caps velocity,
acceleration and jerk on top of our safety layer. franky is imported lazily: install it with
``pip install 'vipflow[franka]'`` (package ``franky-control``, built for your libfranka).

The gripper moves asynchronously and only when the commanded width changes by more than
``gripper_deadband_m``; its width is polled in a background thread so a slow gripper request
never blocks a control tick. A command below the measured width is a ``grasp`` (force
``gripper_force``): the Franka Hand's ``move`` stops at an object without squeezing, and a
held grip is labelled "close" (``vipflow.actions.gripper_commands``).
"""

from __future__ import annotations

import threading
from types import ModuleType

import numpy as np

from vipflow.hardware.protocols import (
    Clock,
    HardwareError,
    MonotonicClock,
    RobotError,
    RobotState,
    RobotTarget,
)


class FrankyUnavailable(HardwareError):
    """franky is not installed (or failed to load libfranka)."""


def import_franky() -> ModuleType:
    try:
        import franky
    except ImportError as exc:
        raise FrankyUnavailable(
            f"the franky backend needs the franky package ({exc}); install it with "
            "`pip install 'vipflow[franka]'` (franky-control, matching your libfranka / robot system "
            "version), or drive the robot through franka_ros2 instead"
        ) from exc
    return franky


class FrankyRobot:
    def __init__(
        self,
        robot_ip: str,
        *,
        clock: Clock | None = None,
        relative_dynamics_factor: float = 0.1,
        gripper: bool = True,
        gripper_speed: float = 0.05,
        gripper_force: float = 20.0,
        gripper_deadband_m: float = 0.005,
        gripper_poll_s: float = 0.05,
    ) -> None:
        self.robot_ip = robot_ip
        self.clock = clock or MonotonicClock()
        self.relative_dynamics_factor = relative_dynamics_factor
        self.use_gripper = gripper
        self.gripper_speed = gripper_speed
        self.gripper_force = gripper_force
        self.gripper_deadband_m = gripper_deadband_m
        self.gripper_poll_s = gripper_poll_s
        self._fk: ModuleType | None = None
        self._robot = None
        self._gripper = None
        self._errors: tuple[type[BaseException], ...] = ()
        self._width = 0.0
        self._commanded_width: float | None = None
        self._space: str | None = None
        self._stop_poll = threading.Event()
        self._poller: threading.Thread | None = None

    # -- protocol ------------------------------------------------------------------------------
    def start(self) -> None:
        fk = self._fk = import_franky()
        self._errors = tuple(
            getattr(fk, name) for name in ("Exception", "InvalidMotionTypeException", "GripperException")
            if isinstance(getattr(fk, name, None), type)
        )
        with self._translate("connecting to"):
            self._robot = fk.Robot(self.robot_ip)
            self._robot.recover_from_errors()
            self._robot.relative_dynamics_factor = self.relative_dynamics_factor
            if self.use_gripper:
                self._gripper = fk.Gripper(self.robot_ip)
                self._width = float(self._gripper.width)
        if self._gripper is not None:
            self._stop_poll.clear()
            self._poller = threading.Thread(target=self._poll_gripper, name="franky-gripper", daemon=True)
            self._poller.start()

    def state(self) -> RobotState:
        robot = self._need()
        with self._translate("reading the state of"):
            joints = robot.current_joint_state
            pose = robot.current_cartesian_state.pose.end_effector_pose
            q, dq = np.asarray(joints.position, float), np.asarray(joints.velocity, float)
            ee = np.concatenate([np.asarray(pose.translation, float), np.asarray(pose.quaternion, float)])
        return RobotState(self.clock.now_ns(), q, dq, ee, self._width)

    def send(self, target: RobotTarget) -> None:
        robot, fk = self._need(), self._fk
        space = "ee" if target.ee_pose is not None else "joint"
        if self._space not in (None, space):
            raise RobotError(
                f"franky: switching from {self._space} to {space} targets mid-run is not allowed "
                "(a control-mode switch stops the robot); use one action space per run"
            )
        self._space = space
        with self._translate("commanding"):
            if space == "ee":
                pose = np.asarray(target.ee_pose, float)
                motion = fk.CartesianMotion(fk.Affine(pose[:3], pose[3:]), fk.ReferenceType.Absolute)
            else:
                motion = fk.JointMotion(np.asarray(target.joint_pos, float))
            robot.move(motion, asynchronous=True)
            self._command_gripper(float(target.gripper_width))

    def hold(self) -> None:
        robot, fk = self._need(), self._fk
        stop = fk.JointStopMotion() if self._space == "joint" else fk.CartesianStopMotion()
        with self._translate("stopping"):
            robot.move(stop, asynchronous=True)

    def recover(self) -> None:
        robot = self._need()
        with self._translate("recovering"):
            robot.recover_from_errors()
        self._space = None

    def stop(self) -> None:
        self._stop_poll.set()
        if self._robot is not None:
            try:
                self.hold()
                with self._translate("stopping"):
                    self._robot.join_motion()
            finally:
                self._robot = None
        if self._poller is not None:
            self._poller.join(timeout=1.0)

    # -- helpers ---------------------------------------------------------------------------------
    def _need(self):
        if self._robot is None:
            raise HardwareError(f"franky robot {self.robot_ip} is not started; call start() first")
        return self._robot

    def _command_gripper(self, width: float) -> None:
        if self._gripper is None:
            return
        if self._commanded_width is None or abs(width - self._commanded_width) > self.gripper_deadband_m:
            if width < self._width - self.gripper_deadband_m:  # closing: hold what is there with force
                self._gripper.grasp_async(width, self.gripper_speed, self.gripper_force, epsilon_outer=0.08)
            else:
                self._gripper.move_async(width, self.gripper_speed)
            self._commanded_width = width

    def _poll_gripper(self) -> None:
        while not self._stop_poll.wait(self.gripper_poll_s):
            try:
                self._width = float(self._gripper.width)
            except self._errors:
                continue  # a transient gripper read failure keeps the last width

    def _translate(self, doing: str) -> _Translate:
        return _Translate(self, doing)


class _Translate:
    """franky/libfranka exceptions -> RobotError (reflexes) or HardwareError (network)."""

    def __init__(self, owner: FrankyRobot, doing: str) -> None:
        self.owner, self.doing = owner, doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None or not self.owner._errors or not isinstance(exc, self.owner._errors):
            return False
        where = f"franky: {self.doing} the robot at {self.owner.robot_ip} failed: {exc}"
        network = getattr(self.owner._fk, "NetworkException", None)
        if isinstance(network, type) and isinstance(exc, network):
            raise HardwareError(f"{where}; check the network link and that FCI is enabled in Desk") from exc
        raise RobotError(f"{where}; clear the cause, then recover (sessions do so between rollouts)") from exc
