"""The simulated kitchen as ROS topics, without rclpy: what the kitchen_sim node steps and publishes.

``KitchenBridge`` owns a ``vipflow.sim.KitchenSim`` and advances it one 40 ms control period per
``tick()`` (the node calls it from a wall-clock timer, so the simulator runs in real time like a
robot). It takes pose targets (PoseStamped, the impedance controller's interface) and gripper
widths (Float64), holds still when targets stop arriving, and returns every output message as
CDR bytes: the camera image, joint states, end-effector pose, finger joints and the success
flag. In expert mode a scripted expert moves the arm, started anew by each of the recorder's start
keys (the arm holds still until the first), as a stand-in for the person of kinesthetic teaching;
the recorder asks for each demo's new scene (``reset``, its ``reset_service``) before the key, so
the ~0.1 s a reset takes never falls inside a recording.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from vip_bringup.kitchen_params import KitchenSimParams
from vipflow.episodes import messages as m
from vipflow.hardware import Frame, RobotTarget
from vipflow.record.session import START_KEYS
from vipflow.ros.names import SIM_WORLD_FRAME
from vipflow.ros.topic_hardware import (
    FRANKA_FINGER_JOINTS,
    bool_cdr,
    image_cdr,
    joint_state_cdr,
    pose_cdr,
    pose_vector,
    string_of,
)


class KitchenBridge:
    def __init__(self, params: KitchenSimParams, *, ros_now_ns: Callable[[], int] | None = None) -> None:
        from vipflow.sim import KitchenSim  # mujoco: only when a simulator is wanted

        self.p = params
        self.ros_now_ns = ros_now_ns or time.time_ns
        self.sim = KitchenSim(params.task, seed=params.seed, image_size=params.image_size)
        self._lock = threading.RLock()  # on_key resets inside its own locked step
        self._pose: np.ndarray | None = None
        self._pose_at = 0.0
        self._gripper = float(self.sim.state().gripper_width)
        self._holding = True
        self._success = False
        self._untouched = True  # no demo has moved the arm in this scene yet
        self.resets = 0
        self.publish_camera = params.publish_camera  # False: a camera dropout (fault injection)

    # -- inputs ---------------------------------------------------------------------------------
    def on_pose_command(self, raw: bytes) -> None:
        pose = pose_vector(m.deserialize(raw, m.MSG_POSE), "command")
        with self._lock:
            self._pose, self._pose_at = pose, time.monotonic()

    def on_gripper_command(self, raw: bytes) -> None:
        width = float(m.deserialize(raw, m.MSG_FLOAT64).data)
        if np.isfinite(width):
            with self._lock:
                self._gripper = width

    def on_key(self, raw: bytes) -> None:
        """Expert mode: a start key sets the hand moving, on a new scene unless the scene is
        still untouched (the recorder's ``reset_service`` call before the key made it)."""
        if not (self.p.expert and string_of(raw) in START_KEYS):
            return
        from vipflow.sim.experts import make_expert

        with self._lock:  # one step with the reset service's: the scene cannot change in between
            if not self._untouched:  # no reset since the last demo (keys tool alone): one now, ~0.1 s
                self.reset()
            self.sim.set_driver(make_expert(self.p.task, horizon=self.p.expert_horizon, seed=self.resets))
            self._untouched = False

    def reset(self) -> str:
        """A new scene (next seed), the arm holding still in it."""
        with self._lock:
            self.sim.reset(None)
            self.sim.set_driver(None)
            self._pose, self._gripper = None, float(self.sim.state().gripper_width)
            self._success = False
            self._untouched = True
            self.resets += 1
        return f"kitchen {self.p.task}: new scene #{self.resets}"

    # -- one control period -------------------------------------------------------------------------
    def tick(self) -> tuple[dict[str, bytes], str | None]:
        """Step the physics once; (output topic -> CDR bytes, an announcement or None)."""
        with self._lock:
            fresh = self._pose is not None and time.monotonic() - self._pose_at <= self.p.command_timeout_s
            if fresh:
                # the robot's controller tracks the policy's target (KitchenSim.command)
                self.sim.command(RobotTarget(gripper_width=self._gripper, ee_pose=self._pose))
                self._holding = False
            else:
                if not self._holding and not self.p.expert:
                    self.sim.hold()  # targets stopped: stand still, like the impedance controller
                    self._holding = True
                self.sim.step(None)  # the expert (expert mode) or the held posture
            state, rgb, success = self.sim.state(), self.sim.render(), self.sim.success()
            changed = success != self._success
            self._success = success
        stamp = self.ros_now_ns()
        half = state.gripper_width / 2.0
        out = {
            self.p.joint_states_topic: joint_state_cdr(
                m.DEFAULT_JOINT_NAMES, state.joint_pos, stamp, state.joint_vel
            ),
            self.p.ee_pose_topic: pose_cdr(state.ee_pose, stamp, SIM_WORLD_FRAME),
            self.p.gripper_topic: joint_state_cdr(FRANKA_FINGER_JOINTS, [half, half], stamp),
            self.p.success_topic: bool_cdr(success),
        }
        if self.publish_camera:
            out[self.p.image_topic] = image_cdr(Frame(stamp, np.ascontiguousarray(rgb)), stamp)
        note = (
            f"kitchen {self.p.task}: {'task done (success)' if success else 'task undone'}"
            if changed
            else None
        )
        return out, note

    def close(self) -> None:
        self.sim.close()
