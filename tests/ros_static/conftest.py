"""Shared pieces of the ROS-side tests (they run without ROS).

``RosBus`` plays the ROS graph between fake hardware (``vipflow.hardware.fake``, which behaves like the
camera and the arm: rates, latency, lag) and the topic-fed backends the nodes use, in CDR bytes,
exactly what rclpy's raw subscriptions deliver and its byte publishing sends. The ROS packages'
own modules are imported from ``src/<package>`` (they are not pip-installed).
"""

from __future__ import annotations

import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(Path(__file__).parent) not in sys.path:  # package_info, shared by the tests here
    sys.path.insert(0, str(Path(__file__).parent))
from package_info import PACKAGES  # noqa: E402

for _pkg in PACKAGES:
    if str(ROOT / "src" / _pkg) not in sys.path:
        sys.path.insert(0, str(ROOT / "src" / _pkg))

from vipflow.episodes import messages as m  # noqa: E402
from vipflow.hardware import RobotTarget  # noqa: E402
from vipflow.hardware.fake import FakeCamera, FakeRobot  # noqa: E402
from vipflow.ros.topic_hardware import (  # noqa: E402
    FRANKA_FINGER_JOINTS,
    TopicCamera,
    TopicRobot,
    image_cdr,
    joint_state_cdr,
    pose_cdr,
)


class RosBus:
    """Fake camera + arm published as Image / JointState / PoseStamped / finger JointState CDR,
    with PoseStamped targets from the ``TopicRobot`` applied back to the arm."""

    def __init__(
        self, camera: FakeCamera, robot: FakeRobot, state_hz: float = 100.0, read_only: bool = False
    ):
        self.camera, self.robot, self.period = camera, robot, 1.0 / state_hz
        self.stop_event, self.freeze_state = threading.Event(), threading.Event()
        self.topic_camera = TopicCamera("/camera")
        self.topic_robot = (
            TopicRobot()
            if read_only
            else TopicRobot(self._on_pose_target, send_gripper=self._on_gripper_goal)
        )
        self.gripper_goal = 0.04  # FakeRobot starts at this opening
        self.threads = [
            threading.Thread(target=f, daemon=True) for f in (self._pump_camera, self._pump_state)
        ]

    @staticmethod
    def ros_stamp(mono_stamp: int) -> int:
        return time.time_ns() - (time.monotonic_ns() - mono_stamp)

    def _pump_camera(self) -> None:
        while not self.stop_event.is_set():
            frame = self.camera.read(1.0)
            self.topic_camera.on_image(image_cdr(frame, self.ros_stamp(frame.stamp_ns)))

    def _pump_state(self) -> None:
        while not self.stop_event.is_set():
            if not self.freeze_state.is_set():
                s = self.robot.state()
                stamp = self.ros_stamp(s.stamp_ns)
                self.topic_robot.on_joint_state(
                    joint_state_cdr(m.DEFAULT_JOINT_NAMES, s.joint_pos, stamp, s.joint_vel)
                )
                self.topic_robot.on_pose(pose_cdr(s.ee_pose, stamp, "fr3_link0"))
                half = s.gripper_width / 2
                self.topic_robot.on_gripper(joint_state_cdr(FRANKA_FINGER_JOINTS, [half, half], stamp))
            time.sleep(self.period)

    def _on_pose_target(self, raw: bytes) -> None:
        pose = m.pose_array(m.deserialize(raw, m.MSG_POSE))
        self.robot.send(RobotTarget(gripper_width=self.gripper_goal, ee_pose=pose))

    def _on_gripper_goal(self, width: float) -> None:
        self.gripper_goal = width

    def __enter__(self) -> RosBus:
        self.camera.start()
        self.robot.start()
        for t in self.threads:
            t.start()
        self.topic_camera.start()
        self.topic_robot.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(2.0)


class PixelEncoder:
    """A real (if tiny) function of the pixels: the image downsampled to 2x2 grey levels."""

    name, arch, fingerprint, embed_dim, similarity = "pixels", "2x2", "p" * 64, 4, "l2"

    def embed_images(self, frames, batch_size=32, progress=False):
        f = np.asarray(frames, np.float32).mean(axis=3) / 255.0
        n, h, w = f.shape
        f = f[:, : h // 2 * 2, : w // 2 * 2].reshape(n, 2, h // 2, 2, w // 2)
        return f.mean(axis=(2, 4)).reshape(n, 4)


@pytest.fixture(scope="session")
def small_vip():
    """A real VIP-family encoder, small and random (no weights can be downloaded here)."""
    import torch

    from vipflow.encoders import load_encoder

    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_encoder("vip", arch="convnet-small", random_init=True, seed=0)


@pytest.fixture
def ros_bus():
    """The ``RosBus`` class: ``with ros_bus(FakeCamera(...), FakeRobot(...)) as bus: ...``."""
    return RosBus


@pytest.fixture
def pixel_encoder() -> PixelEncoder:
    return PixelEncoder()
