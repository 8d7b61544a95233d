"""Camera and robot backends fed by ROS topics, without rclpy.

The ROS nodes use rclpy only as a transport: they subscribe with ``raw=True`` and hand the CDR
bytes to these classes, and publish the CDR bytes these classes produce. Everything in between
(decoding, joint reordering, time conversion, freshness, command building) is plain Python on
the rosbags typestore of :mod:`vipflow.episodes.messages`, so it is tested here on real
serialized messages, and the recorder, the reward node and the policy node share one
implementation of the hardware protocols (:class:`vipflow.hardware.Camera` / ``Robot``).

Time: the core compares stamps with ``time.monotonic_ns`` (the control loop's clock). ROS
headers carry ROS time (wall clock). A message's age is measured in ROS time
(``ros_now - header.stamp``, i.e. capture-to-arrival latency plus queueing) and re-expressed on
the monotonic clock: ``stamp_mono = mono_now - age``. A zero header stamp (some drivers) counts
as "captured on arrival".
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from vipflow.config_schema import option, option_from
from vipflow.episodes import messages as m
from vipflow.episodes.errors import ImageEncodingError
from vipflow.hardware import CameraTimeout, Frame, HardwareError, RobotError, RobotState, RobotTarget
from vipflow.hardware.franka import FINGER_JOINTS as FRANKA_FINGER_JOINTS
from vipflow.task_config import TaskConfig, TopicSpec

MSG_TRAJECTORY = "trajectory_msgs/msg/JointTrajectory"
MSG_POINT_STAMPED = "geometry_msgs/msg/PointStamped"
MSG_STRING = "std_msgs/msg/String"
MSG_BOOL = "std_msgs/msg/Bool"

NowFn = Callable[[], int]
PublishFn = Callable[[bytes], None]


class TopicDataError(HardwareError):
    """A message on an input topic cannot be used (missing joints, NaN pose, bad encoding)."""


def message_age_ns(header_ns: int, ros_now_ns: int) -> int:
    """Capture-to-now age of a message; 0 for unset stamps and for clocks that disagree."""
    if header_ns <= 0:
        return 0
    return max(0, ros_now_ns - header_ns)


def decode_rgb(msg) -> np.ndarray:
    """(H, W, 3) uint8 RGB from a sensor_msgs/Image in rgb8, bgr8 or mono8 (row ``step`` honoured)."""
    if str(msg.encoding).lower() != "mono8":
        return m.decode_image(msg, m.MSG_IMAGE, "image topic")
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    data = np.asarray(msg.data, dtype=np.uint8)
    if step < w or data.size != h * step:
        raise ImageEncodingError(
            f"image topic: mono8 data has {data.size} bytes but {h}x{w} with step {step} needs {h * step}; "
            "the message is damaged"
        )
    gray = data.reshape(h, step)[:, :w]
    return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))


def joint_vector(msg, names: Sequence[str], what: str = "joint_states") -> tuple[np.ndarray, np.ndarray]:
    """Positions and velocities of ``names`` (in that order) from a JointState message.

    Velocities are zero when the publisher sends none (joint_state_publisher may omit them).
    """
    have = list(msg.name)
    missing = [n for n in names if n not in have]
    if missing:
        raise TopicDataError(
            f"{what}: joints {missing} missing (message has {have}); set the joint_names parameter "
            "to your robot's joint names (FR3: fr3_joint1..7)"
        )
    idx = [have.index(n) for n in names]
    pos = np.asarray(msg.position, dtype=np.float64)
    vel = np.asarray(msg.velocity, dtype=np.float64)
    if pos.size != len(have):
        raise TopicDataError(f"{what}: {len(have)} names but {pos.size} positions; the publisher is broken")
    q = pos[idx]
    dq = vel[idx] if vel.size == len(have) else np.zeros(len(idx))
    if not (np.isfinite(q).all() and np.isfinite(dq).all()):
        raise TopicDataError(f"{what}: non-finite joint values {q.tolist()}")
    return q, dq


def gripper_width_from_joints(msg, finger_names: Sequence[str] = FRANKA_FINGER_JOINTS) -> float:
    """Opening in metres: the sum of the finger joints present (each Franka finger = width / 2)."""
    have = list(msg.name)
    present = [n for n in finger_names if n in have]
    if not present:
        raise TopicDataError(
            f"gripper: none of the finger joints {list(finger_names)} in message (has {have}); "
            "set finger_joint_names"
        )
    pos = np.asarray(msg.position, dtype=np.float64)
    width = float(sum(pos[have.index(n)] for n in present))
    if len(present) == 1:
        width *= 2.0  # one finger reported: the hand is symmetric
    if not np.isfinite(width):
        raise TopicDataError(f"gripper: non-finite finger position {width}")
    return width


def pose_vector(msg, what: str = "ee_pose") -> np.ndarray:
    """[x, y, z, qx, qy, qz, qw] from a PoseStamped; the quaternion must be finite and unit."""
    pose = m.pose_array(msg)
    norm = float(np.linalg.norm(pose[3:]))
    if not np.isfinite(pose).all() or abs(norm - 1.0) > 1e-3:
        raise TopicDataError(f"{what}: pose {pose.tolist()} is not finite with a unit quaternion")
    return pose


class Clocks:
    """ROS time and monotonic time, both injectable so tests control them."""

    def __init__(self, ros_now_ns: NowFn | None, mono_now_ns: NowFn | None) -> None:
        self.ros_now_ns = ros_now_ns or time.time_ns
        self.mono_now_ns = mono_now_ns or time.monotonic_ns

    def mono_stamp(self, header_ns: int) -> int:
        return self.mono_now_ns() - message_age_ns(header_ns, self.ros_now_ns())

    def ros_stamp(self, mono_ns: int) -> int:
        """The inverse: a capture time on the monotonic clock as a ROS header stamp."""
        return self.ros_now_ns() - max(0, self.mono_now_ns() - mono_ns)


class TopicCamera(Clocks):
    """``Camera`` fed by sensor_msgs/Image CDR bytes (``on_image``, called by a subscription).

    Decoding happens in ``read`` (the consumer's thread, e.g. perception), not in the ROS
    callback, so a slow decode never blocks the executor. ``backlog`` is how many unread
    messages are kept: 1 (the default) hands out the newest frame, for a control loop that must
    act on the present; a recorder keeps more and reads them oldest first, so a reader that is
    late (its process descheduled on a loaded CPU) loses no frame that arrived meanwhile.
    """

    def __init__(
        self,
        topic: str = "",
        *,
        backlog: int = 1,
        ros_now_ns: NowFn | None = None,
        mono_now_ns: NowFn | None = None,
    ):
        super().__init__(ros_now_ns, mono_now_ns)
        if backlog < 1:
            raise ValueError(f"camera backlog must be at least 1, got {backlog}")
        self.topic = topic
        self._cond = threading.Condition()
        self._unread: deque[tuple[bytes, int]] = deque(maxlen=backlog)
        self._received = 0
        self._running = False

    def on_image(self, raw: bytes) -> None:
        msg_stamp = m.stamp_of(m.deserialize(raw, m.MSG_IMAGE))  # cheap: a view, no pixel copy
        with self._cond:
            self._unread.append((raw, self.mono_stamp(msg_stamp)))
            self._received += 1
            self._cond.notify_all()

    def start(self) -> None:
        self._running = True

    def read(self, timeout_s: float = 1.0) -> Frame:
        return self.read_stamped(timeout_s)[0]

    def read_stamped(self, timeout_s: float = 1.0) -> tuple[Frame, int]:
        """The next unread frame and its original header stamp (ROS time, to stamp derived messages)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._unread or not self._running, timeout_s):
                raise CameraTimeout(
                    f"no new image on {self.topic or 'the image topic'} for {timeout_s:.2f} s "
                    f"({self._received} received so far); check `ros2 topic hz {self.topic}` and that the "
                    "camera driver runs (USB 3 port, realsense2_camera log)"
                )
            if not self._running:
                raise CameraTimeout(f"camera on {self.topic} was stopped")
            raw, stamp = self._unread.popleft()
        msg = m.deserialize(raw, m.MSG_IMAGE)
        try:
            rgb = decode_rgb(msg)
        except ImageEncodingError as exc:  # this frame is unusable; the next one may be fine
            raise TopicDataError(str(exc)) from None
        if not rgb.flags.writeable:  # a view of the message bytes: give consumers (torch) their own copy
            rgb = rgb.copy()
        return Frame(stamp_ns=stamp, rgb=rgb), m.stamp_of(msg)

    def stop(self) -> None:
        with self._cond:
            self._running = False
            self._cond.notify_all()

    def describe(self) -> dict:
        """Camera description stored in episode metadata (resume checks compare it)."""
        return {"source": "ros2", "image_topic": self.topic}


@dataclass(frozen=True)
class TopicHardwareConfig:
    """Where a ROS node finds the camera and the arm, and how strict it is about them.

    Declared as the ``hardware.*`` parameters of the recorder and the policy node.
    """

    image_topic: str = option_from(TopicSpec, "image")
    joint_states_topic: str = option_from(TopicSpec, "joint_states")
    ee_pose_topic: str = option_from(TopicSpec, "ee_pose")
    gripper_topic: str = option_from(
        TopicSpec, "gripper", "gripper finger joints in (sensor_msgs/JointState); '' = no gripper"
    )
    joint_names: tuple[str, ...] = option(m.DEFAULT_JOINT_NAMES, "the 7 arm joints, in order")
    finger_joint_names: tuple[str, ...] = option(FRANKA_FINGER_JOINTS, "gripper finger joints (width = sum)")
    base_frame: str = option("fr3_link0", "frame_id of pose commands (the robot base)")
    gripper_deadband_m: float = option(0.005, "send a gripper goal only when the target moves this much")
    state_timeout_s: float = option(0.5, "refuse to command when the arm state is older (FCI stopped?)")
    start_timeout_s: float = option(10.0, "how long start() waits for the first camera frame and state")

    @property
    def use_gripper(self) -> bool:
        return bool(self.gripper_topic)

    @staticmethod
    def task_params(task: TaskConfig, prefix: str = "hardware.") -> dict[str, str]:
        """The topic parameters a task config implies, as dotted node parameters."""
        t = task.topics
        return {
            f"{prefix}image_topic": t.image,
            f"{prefix}joint_states_topic": t.joint_states,
            f"{prefix}ee_pose_topic": t.ee_pose,
            f"{prefix}gripper_topic": t.gripper,
        }


@dataclass
class _Latest:
    value: object = None
    stamp_mono: int = 0
    header_ns: int = 0  # the message's stamp (its arrival if unset): equal for one instant's inputs
    count: int = 0


class _StateStream:
    """What ``TopicRobot.drain_states`` hands out: a state per new instant of the arm, thinned
    when the arm publishes clearly faster than the sample period (franka_ros2's 1 kHz for a
    100 Hz recording: every 10th), whole when it does not (the kitchen's jittery 25 Hz at 25 Hz).
    The source's pace is the median of its last 16 intervals, so late and early ticks do not
    make it drop states; a step back in the stamps (a restarted publisher) starts it over."""

    def __init__(self, sample_period_ns: int, maxlen: int) -> None:
        self.states: deque[RobotState] = deque(maxlen=maxlen)
        self.period = sample_period_ns
        self.last = -1  # the newest instant seen, taken or thinned out
        self.taken = -1  # the instant of ``states[-1]``
        self.intervals: deque[int] = deque(maxlen=16)
        self.seen = 0

    def offer(self, instant: int, make_state: Callable[[], RobotState]) -> None:
        if instant == self.last:
            return
        if instant < self.last:
            self.intervals.clear()
        elif self.last >= 0:
            self.intervals.append(instant - self.last)
        self.last = instant
        self.seen += 1
        if self._take():
            self.states.append(make_state())
            self.taken = instant

    def _take(self) -> bool:
        if self.period <= 0 or len(self.intervals) < 4:
            return True
        stride = int(self.period // max(statistics.median(self.intervals), 1))
        return stride <= 1 or self.seen % stride == 0

    def drain(self) -> list[RobotState]:
        states = list(self.states)
        self.states.clear()
        return states


class TopicRobot(Clocks):
    """``Robot`` fed by JointState / PoseStamped / gripper JointState CDR bytes; commands out as CDR.

    Without ``publish_pose`` the robot is read-only (the recorder: a person moves the arm);
    ``send`` then refuses and ``hold``/``stop`` do nothing. ``sample_period_s`` thins what
    ``drain_states`` buffers to one state per period (the recorder's state rate) for an arm that
    publishes at least twice as fast (franka_ros2: 1 kHz); 0 keeps every state. ``publish_pose`` receives
    geometry_msgs/PoseStamped bytes for Cartesian targets (the impedance controller's
    equilibrium pose); ``publish_joints`` (optional) trajectory_msgs/JointTrajectory bytes for
    joint targets; ``send_gripper(width)`` starts a gripper motion; ``recover_fn`` clears an FCI
    error (franka_msgs ErrorRecovery + controller re-activation). The arm state's stamp is the
    older of the joint-state and pose stamps, so the control loop's freshness check covers both.
    """

    BACKLOG = 4096  # states drain_states() keeps for a late reader: 4 s of a 1 kHz arm

    def __init__(
        self,
        publish_pose: PublishFn | None = None,
        *,
        publish_joints: PublishFn | None = None,
        send_gripper: Callable[[float], None] | None = None,
        recover_fn: Callable[[], None] | None = None,
        config: TopicHardwareConfig | None = None,
        period_s: float = 0.04,
        sample_period_s: float = 0.0,
        ros_now_ns: NowFn | None = None,
        mono_now_ns: NowFn | None = None,
    ):
        super().__init__(ros_now_ns, mono_now_ns)
        self.config = config or TopicHardwareConfig()
        self._publish_pose = publish_pose
        self._publish_joints = publish_joints
        self._send_gripper = send_gripper
        self._recover_fn = recover_fn
        self._period_s = period_s
        self._lock = threading.Lock()
        self._joints, self._pose, self._gripper = _Latest(), _Latest(), _Latest()
        self._sample_period_ns = round(sample_period_s * 1e9)
        self._stream: _StateStream | None = None  # drain_states() starts it
        self._last_gripper_goal: float | None = None
        self.commands_sent = 0

    # -- inputs (subscription callbacks) ---------------------------------------------------------
    def on_joint_state(self, raw: bytes) -> None:
        msg = m.deserialize(raw, m.MSG_JOINTS)
        if not any(n in msg.name for n in self.config.joint_names):
            return  # e.g. a gripper-only message on a merged topic
        value = joint_vector(msg, self.config.joint_names)
        self._store(self._joints, value, m.stamp_of(msg))

    def on_pose(self, raw: bytes) -> None:
        msg = m.deserialize(raw, m.MSG_POSE)
        self._store(self._pose, pose_vector(msg), m.stamp_of(msg))

    def on_gripper(self, raw: bytes) -> None:
        msg = m.deserialize(raw, m.MSG_JOINTS)
        width = gripper_width_from_joints(msg, self.config.finger_joint_names)
        self._store(self._gripper, width, m.stamp_of(msg))

    def _store(self, slot: _Latest, value: object, header_ns: int) -> None:
        stamp = self.mono_stamp(header_ns)
        # Instants are told apart by header stamps (the monotonic ones of one instant's messages
        # differ by the microseconds between their arrivals); an unset stamp counts as its arrival.
        key = header_ns if header_ns > 0 else self.ros_now_ns()
        with self._lock:
            slot.value, slot.stamp_mono, slot.header_ns, slot.count = value, stamp, key, slot.count + 1
            stream = self._stream
            if stream is None or self._missing():
                return
            instant = self._instant()
            stream.offer(instant, self._combined)
            if slot is self._gripper and key == instant == stream.taken and stream.states:
                # the gripper of the newest instant, arrived after its pose: not drained yet
                stream.states[-1] = replace(stream.states[-1], gripper_width=float(value))

    # -- Robot protocol ---------------------------------------------------------------------------
    def _missing(self) -> list[str]:
        need = [("joint_states", self._joints), ("ee_pose", self._pose)]
        if self.config.use_gripper:
            need.append(("gripper", self._gripper))
        return [name for name, slot in need if slot.count == 0]

    def start(self) -> None:
        deadline = time.monotonic() + self.config.start_timeout_s
        while self._missing():
            if time.monotonic() > deadline:
                raise RobotError(
                    f"no robot state on {self._missing()} after {self.config.start_timeout_s:.0f} s; is "
                    "franka_bringup running (robot_ip, FCI activated in Desk)? Pose topics are best-effort; "
                    "check `ros2 topic echo --qos-reliability best_effort <topic>`"
                )
            time.sleep(0.01)

    def _combined(self) -> RobotState:
        """The newest value of every input as one state (call holding the lock, all received)."""
        (q, dq), pose = self._joints.value, self._pose.value
        width = float(self._gripper.value) if self.config.use_gripper else 0.0
        stamp = min(self._joints.stamp_mono, self._pose.stamp_mono)
        return RobotState(stamp_ns=stamp, joint_pos=q, joint_vel=dq, ee_pose=pose, gripper_width=width)

    def _instant(self) -> int:
        """The header stamp ``_combined`` takes its stamp from (the older arm input)."""
        return min(self._joints.header_ns, self._pose.header_ns)

    def state(self) -> RobotState:
        with self._lock:
            missing = self._missing()
            if missing:
                raise RobotError(f"no robot state received yet on {missing}; call start() first")
            return self._combined()

    def drain_states(self) -> list[RobotState]:
        """Every new state since the last call, oldest first (the recorder's lossless stream).

        The first call starts the buffering and returns the current state: a control loop that
        only ever asks for ``state()`` pays nothing. A state is buffered whenever the combined
        stamp (the older of the joint-state and pose stamps) moves on, i.e. each value a perfect
        poller of ``state()`` would have seen however late the caller is (up to ``BACKLOG``),
        thinned to about one per ``sample_period_s`` for an arm that publishes much faster.
        """
        with self._lock:
            if self._stream is None:
                self._stream = _StateStream(self._sample_period_ns, self.BACKLOG)
                if not self._missing():
                    self._stream.offer(self._instant(), self._combined)
            return self._stream.drain()

    def _fresh_state(self) -> RobotState:
        state = self.state()
        age_s = (self.mono_now_ns() - state.stamp_ns) / 1e9
        if age_s > self.config.state_timeout_s:
            raise RobotError(
                f"robot state is {age_s:.2f} s old: the arm stopped publishing (reflex, user stop or "
                "lost FCI connection); recover() runs franka_msgs ErrorRecovery"
            )
        return state

    def describe(self) -> dict:
        c = self.config
        return {
            "source": "ros2",
            "joint_states_topic": c.joint_states_topic,
            "ee_pose_topic": c.ee_pose_topic,
            "gripper_topic": c.gripper_topic,
            "joint_names": list(c.joint_names),
        }

    def send(self, target: RobotTarget) -> None:
        if self._publish_pose is None:
            raise RobotError("this robot connection is read-only (recording); it cannot send targets")
        self._fresh_state()
        stamp = self.ros_now_ns()
        if target.ee_pose is not None:
            pose = np.asarray(target.ee_pose, dtype=np.float64)
            if not np.isfinite(pose).all():
                raise RobotError(f"refusing non-finite pose target {pose.tolist()}")
            self._publish_pose(pose_cdr(pose, stamp, self.config.base_frame))
        else:
            self._publish_joint_target(np.asarray(target.joint_pos, dtype=np.float64), stamp)
        self._command_gripper(float(target.gripper_width))
        self.commands_sent += 1

    def _publish_joint_target(self, q: np.ndarray, stamp_ns: int) -> None:
        if self._publish_joints is None:
            raise RobotError(
                "this robot streams Cartesian pose targets only; train with action_space ee_delta or "
                "set joint_command_topic to a joint trajectory controller"
            )
        if not np.isfinite(q).all():
            raise RobotError(f"refusing non-finite joint target {q.tolist()}")
        self._publish_joints(joint_trajectory_cdr(q, self.config.joint_names, stamp_ns, self._period_s))

    def _command_gripper(self, width: float) -> None:
        if not self.config.use_gripper or self._send_gripper is None:
            return
        last = self._last_gripper_goal
        if last is None or abs(width - last) >= self.config.gripper_deadband_m:
            self._send_gripper(width)
            self._last_gripper_goal = width

    def hold(self) -> None:
        """Make the current measured pose (or joint position) the target: stay where we are."""
        if self._publish_pose is None:
            return
        state = self.state()
        stamp = self.ros_now_ns()
        self._publish_pose(pose_cdr(state.ee_pose, stamp, self.config.base_frame))
        if self._publish_joints is not None:
            q = state.joint_pos
            self._publish_joints(joint_trajectory_cdr(q, self.config.joint_names, stamp, self._period_s))

    def recover(self) -> None:
        """Clear an FCI error. franka_ros2 stops publishing the arm state while its hardware is
        in error, so a fresh state means there is nothing to clear (evaluation sessions call this
        before every rollout)."""
        if not self._missing():
            age_s = (self.mono_now_ns() - self.state().stamp_ns) / 1e9
            if age_s <= self.config.state_timeout_s:
                return
        if self._recover_fn is None:
            raise RobotError("the arm stopped reporting and no error-recovery action is configured")
        try:
            self._recover_fn()
        except HardwareError:
            raise
        except Exception as exc:
            raise RobotError(f"error recovery failed: {exc}") from exc

    def stop(self) -> None:
        if self._publish_pose is not None and not self._missing():
            self.hold()


def hardware_subscriptions(
    config: TopicHardwareConfig, camera: TopicCamera | None, robot: TopicRobot | None
) -> list[tuple[str, str, Callable[[bytes], None]]]:
    """(message type, topic, raw callback) for every input ``camera`` and ``robot`` need.

    A node subscribes to each with ``raw=True``, so the two ROS nodes that read the hardware
    (recorder, policy) cannot disagree on what they listen to.
    """
    subs: list[tuple[str, str, Callable[[bytes], None]]] = []
    if camera is not None:
        subs.append((m.MSG_IMAGE, config.image_topic, camera.on_image))
    if robot is not None:
        subs.append((m.MSG_JOINTS, config.joint_states_topic, robot.on_joint_state))
        subs.append((m.MSG_POSE, config.ee_pose_topic, robot.on_pose))
        if config.use_gripper:
            subs.append((m.MSG_JOINTS, config.gripper_topic, robot.on_gripper))
    return subs


def joint_trajectory_cdr(q: np.ndarray, names: Sequence[str], stamp_ns: int, reach_s: float) -> bytes:
    """A one-point trajectory_msgs/JointTrajectory reaching ``q`` after ``reach_s`` seconds."""
    t = m.TYPESTORE.types
    sec, nanosec = divmod(round(reach_s * 1e9), 1_000_000_000)
    empty = np.zeros(0, dtype=np.float64)
    point = t["trajectory_msgs/msg/JointTrajectoryPoint"](
        positions=np.asarray(q, dtype=np.float64),
        velocities=empty,
        accelerations=empty,
        effort=empty,
        time_from_start=t["builtin_interfaces/msg/Duration"](sec=sec, nanosec=nanosec),
    )
    msg = t[MSG_TRAJECTORY](
        header=m.header(stamp_ns),
        joint_names=list(names),
        points=[point],
    )
    return to_cdr(msg, MSG_TRAJECTORY)


# -- outgoing messages as CDR bytes (rclpy's Publisher.publish takes ``bytes``) --------------------
def to_cdr(msg, msgtype: str) -> bytes:
    return bytes(m.serialize(msg, msgtype))


def pose_cdr(pose: np.ndarray, stamp_ns: int, frame_id: str) -> bytes:
    """geometry_msgs/PoseStamped."""
    return to_cdr(m.pose_msg(pose, stamp_ns, frame_id), m.MSG_POSE)


def image_cdr(frame: Frame, stamp_ns: int) -> bytes:
    """sensor_msgs/Image (rgb8) of a frame, stamped ``stamp_ns`` (ROS time)."""
    return to_cdr(m.image_msg(frame, stamp_ns, "raw"), m.MSG_IMAGE)


def joint_state_cdr(names: Sequence[str], positions, stamp_ns: int, velocities=()) -> bytes:
    """sensor_msgs/JointState (velocities may be empty, as joint_state_publisher sends them)."""
    return to_cdr(m.joints_msg(names, positions, stamp_ns, velocities), m.MSG_JOINTS)


def float64_cdr(value: float) -> bytes:
    """std_msgs/Float64 (a gripper width target for the simulator bridge)."""
    return to_cdr(m.float64_msg(value), m.MSG_FLOAT64)


def bool_cdr(value: bool) -> bytes:
    return to_cdr(m.TYPESTORE.types[MSG_BOOL](data=bool(value)), MSG_BOOL)


def float32_array_cdr(values, label: str) -> bytes:
    """std_msgs/Float32MultiArray with one dimension named ``label``."""
    return to_cdr(m.float32_array_msg(values, label), m.MSG_FLOAT32_ARRAY)


def point_stamped_cdr(xyz, stamp_ns: int, frame_id: str = "") -> bytes:
    """geometry_msgs/PointStamped (the reward node: x = value, y = reward, stamped like the image)."""
    t = m.TYPESTORE.types
    x, y, z = (float(v) for v in xyz)
    msg = t[MSG_POINT_STAMPED](
        header=m.header(stamp_ns, frame_id), point=t["geometry_msgs/msg/Point"](x=x, y=y, z=z)
    )
    return to_cdr(msg, MSG_POINT_STAMPED)


def string_cdr(text: str) -> bytes:
    return to_cdr(m.TYPESTORE.types[MSG_STRING](data=str(text)), MSG_STRING)


def string_of(raw: bytes) -> str:
    """The text of a std_msgs/String (key presses, status lines)."""
    return str(m.deserialize(raw, MSG_STRING).data)
