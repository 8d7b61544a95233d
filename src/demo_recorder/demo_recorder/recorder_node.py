"""demo_recorder: a session of kinesthetic demos recorded from ROS topics into MCAP episodes.

A thin rclpy adapter around ``vipflow.record.session.RecorderSession``: the camera image and
the arm's joint states, end-effector pose (best-effort, as franka_ros2 publishes it) and gripper
joints arrive as raw CDR and feed the ROS-free ``TopicCamera``/``TopicRobot``, which buffer what
arrives until the session's threads take it (no frame or state is lost to a late thread); the operator's
keys come from ``key_topic`` (run ``ros2 run demo_recorder keys`` in a terminal) and the
session's prompts go to ``prompt_topic`` and the log. The node exits when the session ends.
"""

from __future__ import annotations

import threading

import rclpy
import rclpy.executors
import rclpy.qos
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import String
from std_srvs.srv import Trigger

from demo_recorder.params import INPUT_BACKLOG, RecorderNodeParams
from vipflow.episodes.errors import EpisodeError
from vipflow.hardware import HardwareError
from vipflow.record.session import RecorderSession
from vipflow.ros.node_support import call_service, declare_parameters, message_type, spin
from vipflow.ros.remote_keys import OperatorLink, PromptWriter
from vipflow.ros.topic_hardware import TopicCamera, TopicRobot, hardware_subscriptions


class RecorderNode(Node):
    def __init__(self) -> None:
        super().__init__("demo_recorder")
        self.params: RecorderNodeParams = declare_parameters(self, RecorderNodeParams, ParameterDescriptor)
        p, hw = self.params, self.params.hardware
        self.camera = TopicCamera(hw.image_topic, backlog=INPUT_BACKLOG, ros_now_ns=self._ros_now)
        # read-only (a person moves the arm); states buffered at the session's state rate
        self.robot = TopicRobot(config=hw, sample_period_s=1.0 / p.state_rate_hz, ros_now_ns=self._ros_now)
        # Best effort receives franka_ros2's best-effort pose topics and reliable publishers alike;
        # the queue holds what arrives while this process waits for a CPU.
        inputs = QoSProfile(depth=INPUT_BACKLOG, reliability=ReliabilityPolicy.BEST_EFFORT)
        for msgtype, topic, callback in hardware_subscriptions(hw, self.camera, self.robot):
            self.create_subscription(message_type(msgtype), topic, callback, inputs, raw=True)
        self.link = OperatorLink.on_node(self, rclpy.qos, String, p.key_topic, p.prompt_topic)
        out = PromptWriter(self.link.say)
        new_scene = None
        if p.reset_service:
            self.reset_client = self.create_client(Trigger, p.reset_service)
            new_scene = self._new_scene
        self.session = RecorderSession(
            p.session_config(), self.camera, self.robot, self.link.keys, out, new_scene=new_scene
        )
        self.finished = False
        self.exit_code = 0
        self._thread = threading.Thread(target=self._run, name="recorder-session", daemon=True)
        self._thread.start()
        self.link.say(
            f"recording {p.task!r} into {p.dataset}; keys come from {p.key_topic}: run "
            "`ros2 run demo_recorder keys` in a terminal"
        )

    def _ros_now(self) -> int:
        return self.get_clock().now().nanoseconds

    def _new_scene(self) -> None:
        p = self.params
        res = call_service(self.reset_client, Trigger.Request(), p.service_timeout_s, "scene reset")
        if not res.success:
            raise HardwareError(f"{p.reset_service} refused a new scene: {res.message}")

    def _run(self) -> None:
        try:
            result = self.session.run()
            self.link.say(f"{len(result.kept)} episode(s) kept in {self.params.dataset}")
        except (EpisodeError, HardwareError) as exc:
            self.link.say(f"error: {exc}")
            self.exit_code = 1
        finally:
            self.finished = True

    def close(self) -> None:
        if not self.finished:
            self.link.close()  # "q": the session stops at its next key poll, closing the episode safely
            self._thread.join(timeout=15.0)


def main(args: list[str] | None = None) -> int:
    return spin(rclpy, RecorderNode, name="demo_recorder", args=args)


if __name__ == "__main__":
    raise SystemExit(main())
