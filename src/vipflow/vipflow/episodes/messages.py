"""Topic names, message types and the conversions between hardware samples and ROS messages.

Standard message types only (sensor_msgs, geometry_msgs, std_msgs) so that ``ros2 bag play``,
Foxglove and any CDR decoder read our episodes without custom interface packages. The
definitions come from rosbags' Humble typestore; they are byte-identical to Jazzy's for every
type used here (checked in tests), so one episode plays on both.
"""

from __future__ import annotations

import cv2
import numpy as np
from rosbags.typesys import Stores, get_typestore

from vipflow.episodes.errors import ImageEncodingError
from vipflow.hardware import Frame, RobotState
from vipflow.hardware.franka import JOINT_NAMES

TYPESTORE = get_typestore(Stores.ROS2_HUMBLE)

TOPIC_IMAGE = "/camera/color/image_raw"
TOPIC_IMAGE_COMPRESSED = "/camera/color/image_raw/compressed"
TOPIC_JOINTS = "/joint_states"
TOPIC_EE_POSE = "/ee_pose"
TOPIC_GRIPPER = "/gripper/width"
TOPIC_ACTION = "/action"
TOPIC_REWARD = "/reward"

MSG_IMAGE = "sensor_msgs/msg/Image"
MSG_COMPRESSED = "sensor_msgs/msg/CompressedImage"
MSG_JOINTS = "sensor_msgs/msg/JointState"
MSG_POSE = "geometry_msgs/msg/PoseStamped"
MSG_FLOAT64 = "std_msgs/msg/Float64"
MSG_FLOAT32_ARRAY = "std_msgs/msg/Float32MultiArray"

TOPIC_TYPES = {
    TOPIC_IMAGE: MSG_IMAGE,
    TOPIC_IMAGE_COMPRESSED: MSG_COMPRESSED,
    TOPIC_JOINTS: MSG_JOINTS,
    TOPIC_EE_POSE: MSG_POSE,
    TOPIC_GRIPPER: MSG_FLOAT64,
    TOPIC_ACTION: MSG_FLOAT32_ARRAY,
    TOPIC_REWARD: MSG_FLOAT32_ARRAY,
}

# Cadence stream of each topic; robot state fans out to three topics written together.
TOPIC_STREAM = {
    TOPIC_IMAGE: "camera",
    TOPIC_IMAGE_COMPRESSED: "camera",
    TOPIC_JOINTS: "joint_states",
    TOPIC_EE_POSE: "ee_pose",
    TOPIC_GRIPPER: "gripper",
    TOPIC_ACTION: "action",
    TOPIC_REWARD: "reward",
}

# image_format -> (topic, file extension for cv2.imencode or None for raw)
IMAGE_FORMATS = {
    "raw": (TOPIC_IMAGE, None),
    "jpeg": (TOPIC_IMAGE_COMPRESSED, ".jpg"),
    "png": (TOPIC_IMAGE_COMPRESSED, ".png"),
}
DEFAULT_JOINT_NAMES = JOINT_NAMES  # joint names a bag gets when the robot does not report its own
CAMERA_FRAME_ID = "camera_color_optical_frame"

_T = TYPESTORE.types


def header(stamp_ns: int, frame_id: str = ""):
    """std_msgs/Header at ``stamp_ns`` (ROS time)."""
    sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return _T["std_msgs/msg/Header"](
        stamp=_T["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec), frame_id=frame_id
    )


def stamp_of(msg) -> int:
    """Header stamp in ns."""
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def image_topic(image_format: str) -> str:
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be one of {sorted(IMAGE_FORMATS)}, got {image_format!r}")
    return IMAGE_FORMATS[image_format][0]


def image_msg(frame: Frame, stamp_ns: int, image_format: str = "raw", jpeg_quality: int = 90):
    rgb = np.ascontiguousarray(frame.rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageEncodingError(
            f"frames must be (H, W, 3) uint8 RGB, got {rgb.dtype} {rgb.shape}; convert in the camera backend"
        )
    hdr = header(stamp_ns, CAMERA_FRAME_ID)
    image_topic(image_format)
    ext = IMAGE_FORMATS[image_format][1]
    if ext is None:
        h, w, _ = rgb.shape
        return _T[MSG_IMAGE](
            header=hdr,
            height=h,
            width=w,
            encoding="rgb8",
            is_bigendian=0,
            step=w * 3,
            data=rgb.reshape(-1),
        )
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if ext == ".jpg" else []
    ok, buf = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ImageEncodingError(f"OpenCV could not encode a {rgb.shape} frame as {image_format}")
    return _T[MSG_COMPRESSED](header=hdr, format=image_format, data=buf.reshape(-1))


def decode_image(msg, msgtype: str, where: str = "") -> np.ndarray:
    """(H, W, 3) uint8 RGB from an Image (rgb8/bgr8) or CompressedImage (jpeg/png) message."""
    if msgtype == MSG_IMAGE:
        enc = str(msg.encoding).lower()
        if enc not in ("rgb8", "bgr8"):
            raise ImageEncodingError(
                f"{where}: image encoding {msg.encoding!r} is not supported (need rgb8 or bgr8); "
                "re-record with the camera's color stream set to RGB8 "
                "(realsense-ros rgb_camera.color_format:=RGB8)"
            )
        h, w, step = int(msg.height), int(msg.width), int(msg.step)
        data = np.asarray(msg.data, dtype=np.uint8)
        if step < w * 3 or data.size != h * step:
            raise ImageEncodingError(
                f"{where}: image data has {data.size} bytes but {h}x{w} {enc} with step {step} "
                f"needs {h * step}; the message is damaged"
            )
        rgb = data.reshape(h, step)[:, : w * 3].reshape(h, w, 3)
        return np.ascontiguousarray(rgb[..., ::-1] if enc == "bgr8" else rgb)
    if msgtype == MSG_COMPRESSED:
        fmt = str(msg.format).lower()
        if "jpeg" not in fmt and "jpg" not in fmt and "png" not in fmt:
            raise ImageEncodingError(
                f"{where}: compressed image format {msg.format!r} is not jpeg or png; "
                "record with image_format jpeg/png or raw"
            )
        bgr = cv2.imdecode(np.asarray(msg.data, dtype=np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ImageEncodingError(
                f"{where}: {fmt} image data could not be decoded; the message is damaged"
            )
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    raise ImageEncodingError(f"{where}: {msgtype} is not an image message type")


def joints_msg(names, positions, stamp_ns: int, velocities=()):
    """sensor_msgs/JointState (velocities may be empty, as joint_state_publisher sends them)."""
    return _T[MSG_JOINTS](
        header=header(stamp_ns),
        name=list(names),
        position=np.asarray(positions, dtype=np.float64),
        velocity=np.asarray(velocities, dtype=np.float64),
        effort=np.zeros(0, dtype=np.float64),
    )


def joint_state_msg(state: RobotState, stamp_ns: int, names: tuple[str, ...] | list[str]):
    return joints_msg(names, state.joint_pos, stamp_ns, state.joint_vel)


def pose_msg(pose: np.ndarray, stamp_ns: int, frame_id: str):
    p = [float(v) for v in np.asarray(pose, dtype=np.float64).reshape(7)]
    return _T[MSG_POSE](
        header=header(stamp_ns, frame_id),
        pose=_T["geometry_msgs/msg/Pose"](
            position=_T["geometry_msgs/msg/Point"](x=p[0], y=p[1], z=p[2]),
            orientation=_T["geometry_msgs/msg/Quaternion"](x=p[3], y=p[4], z=p[5], w=p[6]),
        ),
    )


def pose_array(msg) -> np.ndarray:
    p, q = msg.pose.position, msg.pose.orientation
    return np.array([p.x, p.y, p.z, q.x, q.y, q.z, q.w], dtype=np.float64)


def float64_msg(value: float):
    return _T[MSG_FLOAT64](data=float(value))


def float32_array_msg(values, label: str):
    data = np.asarray(values, dtype=np.float32).reshape(-1)
    dim = _T["std_msgs/msg/MultiArrayDimension"](label=label, size=data.size, stride=data.size)
    layout = _T["std_msgs/msg/MultiArrayLayout"](dim=[dim], data_offset=0)
    return _T[MSG_FLOAT32_ARRAY](layout=layout, data=data)


def serialize(msg, msgtype: str) -> bytes:
    return TYPESTORE.serialize_cdr(msg, msgtype)


def deserialize(raw: bytes | memoryview, msgtype: str):
    return TYPESTORE.deserialize_cdr(raw, msgtype)
