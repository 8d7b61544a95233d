"""kitchen_sim: the simulated FrankaKitchen as a camera and an arm on ROS topics, in real time.

It stands in for realsense2_camera + franka_bringup in the simulated tasks' launch files, so the
reward node, the recorder and the policy node run exactly as on the real rig. Outputs: image,
joint states, end-effector pose, finger joints, success flag; inputs: pose targets, gripper
widths, and (expert mode) the recorder's keys. ``reset_service`` (std_srvs/Trigger) starts a
new scene. The simulation itself is ``vip_bringup.kitchen_bridge`` (ROS-free).
"""

from __future__ import annotations

import rclpy
import rclpy.executors
import rclpy.qos
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Float64, String
from std_srvs.srv import Trigger

from vip_bringup.kitchen_bridge import KitchenBridge
from vip_bringup.kitchen_params import KitchenSimParams
from vipflow.ros.node_support import declare_parameters, spin
from vipflow.ros.remote_keys import prompt_qos
from vipflow.ros.topic_hardware import string_cdr


class KitchenSimNode(Node):
    def __init__(self) -> None:
        super().__init__("kitchen_sim")
        p: KitchenSimParams = declare_parameters(
            self, KitchenSimParams, ParameterDescriptor, read_only=lambda name: name != "publish_camera"
        )
        self.params = p
        self.bridge = KitchenBridge(p, ros_now_ns=lambda: self.get_clock().now().nanoseconds)
        types = {
            p.image_topic: Image,
            p.joint_states_topic: JointState,
            p.ee_pose_topic: PoseStamped,
            p.gripper_topic: JointState,
            p.success_topic: Bool,
        }
        self.outputs = {topic: self.create_publisher(msg, topic, 10) for topic, msg in types.items()}
        self.prompts = self.create_publisher(String, p.prompt_topic, prompt_qos(rclpy.qos))
        self.create_subscription(PoseStamped, p.command_topic, self.bridge.on_pose_command, 10, raw=True)
        self.create_subscription(
            Float64, p.gripper_command_topic, self.bridge.on_gripper_command, 10, raw=True
        )
        self.create_subscription(String, p.key_topic, self.bridge.on_key, 10, raw=True)
        self.create_service(Trigger, p.reset_service, self._reset)
        self.create_timer(1.0 / p.rate_hz, self._tick)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.get_logger().info(
            f"kitchen {p.task} at {p.rate_hz:g} Hz: {p.image_topic}, {p.ee_pose_topic} out; "
            f"{p.command_topic} in"
            + (" (scripted expert: press space in the keys tool to start a demo)" if p.expert else "")
        )

    def _tick(self) -> None:
        messages, note = self.bridge.tick()
        for topic, raw in messages.items():
            self.outputs[topic].publish(raw)
        if note:
            self.get_logger().info(note)
            self.prompts.publish(string_cdr(note))

    def _on_set_parameters(self, changed) -> SetParametersResult:
        for param in changed:
            if param.name == "publish_camera":
                if not isinstance(param.value, bool):
                    return SetParametersResult(
                        successful=False, reason="publish_camera must be true or false"
                    )
                self.bridge.publish_camera = param.value
                self.get_logger().info(f"camera {'on' if param.value else 'off (simulated dropout)'}")
        return SetParametersResult(successful=True)

    def _reset(self, request, response):
        response.message = self.bridge.reset()
        response.success = True
        return response

    def close(self) -> None:
        self.bridge.close()


def main(args: list[str] | None = None) -> int:
    return spin(rclpy, KitchenSimNode, name="kitchen_sim", args=args)


if __name__ == "__main__":
    raise SystemExit(main())
