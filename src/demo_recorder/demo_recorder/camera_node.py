"""camera: publishes a colour camera as sensor_msgs/Image (rgb8) without realsense2_camera.

Backends: ``pyrealsense2`` (a RealSense through librealsense's Python bindings) or ``replay``
(an mp4 or a recorded episode with its original timing, for dry runs and launch tests). The
frames' capture times become the header stamps (ROS time). The work is ROS-free
(``demo_recorder.camera_source``); this node only publishes the bytes.
"""

from __future__ import annotations

import rclpy
import rclpy.executors
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

from demo_recorder.camera_source import CameraPump
from demo_recorder.params import CameraNodeParams
from vipflow.ros.node_support import declare_parameters, spin


class CameraNode(Node):
    def __init__(self) -> None:
        super().__init__("camera")
        self.params: CameraNodeParams = declare_parameters(self, CameraNodeParams, ParameterDescriptor)
        # Reliable like realsense2_camera's image topics: best-effort and reliable readers both match.
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=2, reliability=ReliabilityPolicy.RELIABLE)
        self.publisher = self.create_publisher(Image, self.params.image_topic, qos)
        self.pump = CameraPump(
            self.params,
            self.publisher.publish,
            self.get_logger().warning,
            ros_now_ns=lambda: self.get_clock().now().nanoseconds,
        )
        self.pump.start()
        self.get_logger().info(f"{self.params.backend} camera -> {self.params.image_topic}")

    def close(self) -> None:
        self.pump.stop()


def main(args: list[str] | None = None) -> int:
    return spin(rclpy, CameraNode, name="camera", args=args)


if __name__ == "__main__":
    raise SystemExit(main())
