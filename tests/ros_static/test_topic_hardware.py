"""The topic-fed camera and robot: real CDR messages in and out, ROS-time stamps, freshness.

These classes are what the ROS nodes run between rclpy's raw subscriptions and the core, so the
tests feed them the exact bytes rclpy would deliver (rosbags CDR = ROS 2 CDR) and decode what
they publish the way a ROS subscriber would.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from vipflow.episodes import messages as m
from vipflow.episodes.errors import ImageEncodingError
from vipflow.hardware import CameraTimeout, MonotonicClock, RobotError, RobotTarget
from vipflow.hardware.fake import FakeCamera, FakeRobot
from vipflow.ros.topic_hardware import (
    MSG_TRAJECTORY,
    TopicCamera,
    TopicDataError,
    TopicHardwareConfig,
    TopicRobot,
    decode_rgb,
    gripper_width_from_joints,
    joint_vector,
    message_age_ns,
    pose_vector,
)
from vipflow.runtime.limits import SafetyLimits, WatchdogLimits
from vipflow.runtime.loop import ControlLoop
from vipflow.runtime.safety import SafetyLayer

T = m.TYPESTORE.types
ARM = m.DEFAULT_JOINT_NAMES
HOME_POSE = np.array([0.45, 0.0, 0.4, 1.0, 0.0, 0.0, 0.0])


def header(stamp_ns: int):
    sec, nsec = divmod(stamp_ns, 1_000_000_000)
    return T["std_msgs/msg/Header"](
        stamp=T["builtin_interfaces/msg/Time"](sec=sec, nanosec=nsec), frame_id=""
    )


def image_cdr(pixels: np.ndarray, encoding: str, stamp_ns: int, step: int | None = None) -> bytes:
    h, w = pixels.shape[:2]
    row = pixels.reshape(h, -1)
    step = step or row.shape[1]
    padded = np.zeros((h, step), np.uint8)
    padded[:, : row.shape[1]] = row
    msg = T[m.MSG_IMAGE](
        header=header(stamp_ns),
        height=h,
        width=w,
        encoding=encoding,
        is_bigendian=0,
        step=step,
        data=padded.reshape(-1),
    )
    return bytes(m.serialize(msg, m.MSG_IMAGE))


def joints_cdr(names, pos, stamp_ns: int, vel=None) -> bytes:
    msg = T[m.MSG_JOINTS](
        header=header(stamp_ns),
        name=list(names),
        position=np.asarray(pos, float),
        velocity=np.asarray([] if vel is None else vel, float),
        effort=np.zeros(0),
    )
    return bytes(m.serialize(msg, m.MSG_JOINTS))


def pose_cdr(pose, stamp_ns: int) -> bytes:
    return bytes(m.serialize(m.pose_msg(np.asarray(pose, float), stamp_ns, "fr3_link0"), m.MSG_POSE))


# ---- conversions -------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "mono8"])
def test_images_decode_with_padded_rows(encoding):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (5, 7, 3), dtype=np.uint8)
    if encoding == "mono8":
        pixels, want = rgb[..., 0], np.repeat(rgb[..., :1], 3, axis=2)
    else:
        pixels, want = (rgb[..., ::-1] if encoding == "bgr8" else rgb), rgb
    raw = image_cdr(np.ascontiguousarray(pixels), encoding, 5, step=pixels.shape[1] * pixels[0, 0].size + 3)
    got = decode_rgb(m.deserialize(raw, m.MSG_IMAGE))
    np.testing.assert_array_equal(got, want)


def test_bad_images_are_named():
    with pytest.raises(ImageEncodingError, match="'16UC1' is not supported"):
        decode_rgb(m.deserialize(image_cdr(np.zeros((2, 4), np.uint8), "16UC1", 1), m.MSG_IMAGE))
    msg = m.deserialize(image_cdr(np.zeros((4, 4), np.uint8), "mono8", 1), m.MSG_IMAGE)
    msg.height = 5  # claims more rows than it carries
    with pytest.raises(ImageEncodingError, match="mono8 data has 16 bytes but 5x4 with step 4 needs 20"):
        decode_rgb(msg)


def test_joint_states_are_reordered_by_name():
    names = ["fr3_finger_joint1", *reversed(ARM)]
    pos = [0.02, *range(7, 0, -1)]
    q, dq = joint_vector(m.deserialize(joints_cdr(names, pos, 1), m.MSG_JOINTS), ARM)
    assert q.tolist() == [1, 2, 3, 4, 5, 6, 7] and dq.tolist() == [0] * 7  # no velocities sent
    with pytest.raises(TopicDataError, match=r"joints \['fr3_joint7'\] missing"):
        joint_vector(m.deserialize(joints_cdr(ARM[:6], range(6), 1), m.MSG_JOINTS), ARM)


def test_gripper_width_is_the_sum_of_the_fingers():
    msg = m.deserialize(
        joints_cdr(["fr3_finger_joint1", "fr3_finger_joint2"], [0.02, 0.021], 1), m.MSG_JOINTS
    )
    assert gripper_width_from_joints(msg) == pytest.approx(0.041)
    one = m.deserialize(joints_cdr(["fr3_finger_joint1"], [0.015], 1), m.MSG_JOINTS)
    assert gripper_width_from_joints(one) == pytest.approx(0.03)
    with pytest.raises(TopicDataError, match="none of the finger joints"):
        gripper_width_from_joints(m.deserialize(joints_cdr(ARM, range(7), 1), m.MSG_JOINTS))


def test_pose_needs_a_unit_quaternion():
    assert pose_vector(m.deserialize(pose_cdr(HOME_POSE, 1), m.MSG_POSE)).tolist() == HOME_POSE.tolist()
    with pytest.raises(TopicDataError, match="unit quaternion"):
        pose_vector(m.deserialize(pose_cdr([0, 0, 0, 0, 0, 0, 0], 1), m.MSG_POSE))


def test_message_age():
    assert message_age_ns(0, 10**18) == 0  # unset stamp: "captured on arrival"
    assert message_age_ns(100, 130) == 30
    assert message_age_ns(200, 130) == 0  # publisher clock ahead: never negative


# ---- camera ------------------------------------------------------------------------------------
class Clocks:
    """ROS wall time and monotonic time offset by a constant, advanced by hand."""

    def __init__(self):
        self.mono = 5_000_000_000
        self.offset = 1_700_000_000_000_000_000

    def ros(self) -> int:
        return self.mono + self.offset


def test_camera_converts_capture_time_to_the_monotonic_clock():
    clocks = Clocks()
    cam = TopicCamera("/cam", ros_now_ns=clocks.ros, mono_now_ns=lambda: clocks.mono)
    cam.start()
    captured_ros = clocks.ros() - 30_000_000  # arrives 30 ms after capture
    cam.on_image(image_cdr(np.full((4, 6, 3), 9, np.uint8), "rgb8", captured_ros))
    frame = cam.read(0.1)
    assert frame.stamp_ns == clocks.mono - 30_000_000
    assert frame.rgb.shape == (4, 6, 3) and frame.rgb[0, 0, 0] == 9


def test_camera_returns_only_new_frames_and_the_newest_one():
    cam = TopicCamera("/cam")
    cam.start()
    for value in (1, 2, 3):
        cam.on_image(image_cdr(np.full((2, 2, 3), value, np.uint8), "rgb8", time.time_ns()))
    assert cam.read(0.1).rgb[0, 0, 0] == 3  # older ones were superseded, like a depth-1 queue
    t0 = time.monotonic()
    with pytest.raises(CameraTimeout, match=r"no new image on /cam for 0.15 s \(3 received so far\)"):
        cam.read(0.15)
    assert time.monotonic() - t0 >= 0.14
    threading.Timer(0.05, cam.on_image, (image_cdr(np.full((2, 2, 3), 4, np.uint8), "rgb8", 0),)).start()
    assert cam.read(1.0).rgb[0, 0, 0] == 4  # a reader blocked in read() wakes on arrival


def test_a_camera_with_a_backlog_hands_out_every_frame_oldest_first():
    """The recorder's camera: a reader that was late gets the frames that arrived meanwhile."""
    cam = TopicCamera("/cam", backlog=3)
    cam.start()
    for value in (1, 2, 3, 4, 5):
        cam.on_image(image_cdr(np.full((2, 2, 3), value, np.uint8), "rgb8", time.time_ns()))
    assert [cam.read(0.1).rgb[0, 0, 0] for _ in range(3)] == [3, 4, 5]  # the backlog's size is kept
    with pytest.raises(CameraTimeout, match=r"\(5 received so far\)"):
        cam.read(0.05)
    with pytest.raises(ValueError, match="camera backlog must be at least 1, got 0"):
        TopicCamera("/cam", backlog=0)


def test_camera_stop_unblocks_a_reader():
    cam = TopicCamera("/cam")
    cam.start()
    threading.Timer(0.05, cam.stop).start()
    with pytest.raises(CameraTimeout, match="stopped"):
        cam.read(5.0)


# ---- robot -------------------------------------------------------------------------------------
def make_robot(**kw):
    sent: dict[str, list] = {"pose": [], "joints": [], "gripper": []}
    robot = TopicRobot(
        lambda raw: sent["pose"].append(m.deserialize(raw, m.MSG_POSE)),
        send_gripper=sent["gripper"].append,
        **kw,
    )
    return robot, sent


def feed(robot: TopicRobot, stamp_ns: int | None = None, q=None, pose=HOME_POSE, width=0.06):
    stamp = time.time_ns() if stamp_ns is None else stamp_ns
    robot.on_joint_state(joints_cdr(ARM, np.arange(7) * 0.1 if q is None else q, stamp))
    robot.on_pose(pose_cdr(pose, stamp))
    robot.on_gripper(joints_cdr(["fr3_finger_joint1", "fr3_finger_joint2"], [width / 2] * 2, stamp))


def test_state_combines_the_topics_with_the_older_stamp():
    clocks = Clocks()
    robot, _ = make_robot(ros_now_ns=clocks.ros, mono_now_ns=lambda: clocks.mono)
    with pytest.raises(
        RobotError, match=r"no robot state received yet on \['joint_states', 'ee_pose', 'gripper'\]"
    ):
        robot.state()
    robot.on_joint_state(joints_cdr(ARM, np.arange(7) * 0.1, clocks.ros() - 2_000_000))
    robot.on_pose(pose_cdr(HOME_POSE, clocks.ros() - 9_000_000))
    robot.on_gripper(joints_cdr(["fr3_finger_joint1", "fr3_finger_joint2"], [0.01, 0.01], clocks.ros()))
    # a gripper-only message on the joint topic (joint_state_publisher merges) is not an arm state
    robot.on_joint_state(joints_cdr(["fr3_finger_joint1"], [0.0], clocks.ros()))
    state = robot.state()
    assert state.stamp_ns == clocks.mono - 9_000_000  # the pose is the older input
    assert state.joint_pos == pytest.approx(np.arange(7) * 0.1)
    assert state.ee_pose.tolist() == HOME_POSE.tolist() and state.gripper_width == pytest.approx(0.02)


def test_drained_states_are_every_state_since_the_last_call_however_late_the_reader():
    """What a late recorder thread gets: one state per instant, each with that instant's inputs
    (the gripper message arrives after the pose that completes the instant), and nothing twice."""
    robot, _ = make_robot()
    t0 = time.time_ns() - 1_000_000_000
    feed(robot, stamp_ns=t0, width=0.01)
    (first,) = robot.drain_states()  # the first call starts the buffer with the present state
    assert first.gripper_width == pytest.approx(0.01)
    for i in range(1, 11):  # ten instants arrive while nobody reads (a descheduled thread)
        feed(robot, stamp_ns=t0 + i * 40_000_000, q=np.full(7, i * 0.01), width=0.01 + i * 0.001)
    states = robot.drain_states()
    assert len(states) == 10
    assert np.diff([s.stamp_ns for s in states]) == pytest.approx([40_000_000] * 9, abs=1e6)
    assert [s.joint_pos[0] for s in states] == pytest.approx([i * 0.01 for i in range(1, 11)])
    assert [s.gripper_width for s in states] == pytest.approx([0.01 + i * 0.001 for i in range(1, 11)])
    assert robot.drain_states() == []  # nothing new
    robot.on_joint_state(joints_cdr(ARM, np.zeros(7), t0 + 11 * 40_000_000))
    assert robot.drain_states() == []  # the pose of that instant has not arrived: not a state yet
    assert robot.state().stamp_ns == pytest.approx(states[-1].stamp_ns, abs=1e6)  # the older input rules


@pytest.mark.parametrize(
    ("source_ms", "late_ms", "sample_ms", "kept"),
    [
        (1.0, 0.0, 10.0, (100, 104)),  # franka_ros2's 1 kHz at the recorder's 100 Hz: every 10th
        (40.0, 30.0, 40.0, (1000, 1000)),  # the kitchen's 25 Hz, its timer up to 30 ms late: whole
        (36.0, 0.0, 40.0, (1000, 1000)),  # a source 10 % faster than the period: whole
        (44.0, 0.0, 40.0, (1000, 1000)),  # ... 10 % slower: whole
        (40.0, 0.0, 0.0, (1000, 1000)),  # no sample period: whole
    ],
)
def test_drained_states_are_thinned_only_for_a_much_faster_source(source_ms, late_ms, sample_ms, kept):
    robot, _ = make_robot(sample_period_s=sample_ms / 1e3)
    rng = np.random.default_rng(0)
    t0 = time.time_ns() - 10**11
    feed(robot, stamp_ns=t0)
    robot.drain_states()
    grid = t0 + np.arange(1, 1001) * source_ms * 1e6
    stamps = grid + rng.uniform(0.0, late_ms, grid.size) * 1e6  # a timer fires late, never early
    got = []
    for stamp in stamps.astype(np.int64):
        feed(robot, stamp_ns=int(stamp))
        got += robot.drain_states()
    assert kept[0] <= len(got) <= kept[1]


def test_drained_states_go_on_after_unset_stamps_and_a_clock_step_back():
    clocks = Clocks()
    robot, _ = make_robot(sample_period_s=0.04, ros_now_ns=clocks.ros, mono_now_ns=lambda: clocks.mono)
    robot.drain_states()
    got = []
    for _ in range(5):  # a publisher that leaves its stamps at zero: its arrivals are the instants
        clocks.mono += 40_000_000
        feed(robot, stamp_ns=0)
        got += robot.drain_states()
    assert len(got) == 5
    t0 = clocks.ros() + 40_000_000
    for i in range(10):  # ... then one whose clock stepped a second back mid-stream
        feed(robot, stamp_ns=t0 + (i - 25 * (i >= 5)) * 40_000_000)
        got += robot.drain_states()
    assert len(got) == 15


def test_send_publishes_the_pose_target_and_gripper_goals_past_the_deadband():
    robot, sent = make_robot()
    feed(robot)
    target = HOME_POSE + np.array([0.01, 0, 0, 0, 0, 0, 0])
    for width in (0.05, 0.052, 0.058):
        robot.send(RobotTarget(gripper_width=width, ee_pose=target))
    assert len(sent["pose"]) == 3 and robot.commands_sent == 3
    msg = sent["pose"][-1]
    assert m.pose_array(msg).tolist() == pytest.approx(target.tolist())
    assert msg.header.frame_id == "fr3_link0" and m.stamp_of(msg) == pytest.approx(time.time_ns(), abs=1e9)
    assert sent["gripper"] == [0.05, 0.058]  # 2 mm is inside the 5 mm deadband


def test_send_refuses_on_stale_state_nan_or_joint_targets_without_a_joint_controller():
    robot, sent = make_robot(config=TopicHardwareConfig(state_timeout_s=0.2))
    feed(robot, stamp_ns=time.time_ns() - 300_000_000)
    with pytest.raises(RobotError, match=r"robot state is 0\.3\d s old"):
        robot.send(RobotTarget(gripper_width=0.05, ee_pose=HOME_POSE))
    feed(robot)
    with pytest.raises(RobotError, match="non-finite pose"):
        robot.send(RobotTarget(gripper_width=0.05, ee_pose=np.full(7, np.nan)))
    with pytest.raises(RobotError, match="Cartesian pose targets only"):
        robot.send(RobotTarget(gripper_width=0.05, joint_pos=np.zeros(7)))
    assert sent["pose"] == []


def test_joint_targets_go_out_as_one_point_trajectories():
    trajectories = []
    robot = TopicRobot(lambda raw: None, publish_joints=lambda raw: trajectories.append(raw), period_s=0.04)
    robot.config = TopicHardwareConfig(gripper_topic="")
    feed(robot)
    robot.send(RobotTarget(gripper_width=0.0, joint_pos=np.arange(7) * 0.2))
    msg = m.deserialize(trajectories[-1], MSG_TRAJECTORY)
    assert list(msg.joint_names) == list(ARM)
    assert msg.points[0].positions.tolist() == pytest.approx((np.arange(7) * 0.2).tolist())
    assert msg.points[0].time_from_start.nanosec == 40_000_000


def test_hold_targets_the_measured_pose_and_read_only_robots_never_publish():
    robot, sent = make_robot()
    feed(robot, pose=HOME_POSE + [0.02, 0, 0, 0, 0, 0, 0])
    robot.hold()
    assert m.pose_array(sent["pose"][-1])[0] == pytest.approx(0.47)
    reader = TopicRobot(config=TopicHardwareConfig())
    feed(reader)
    reader.hold()
    reader.stop()
    with pytest.raises(RobotError, match="read-only"):
        reader.send(RobotTarget(gripper_width=0.05, ee_pose=HOME_POSE))
    assert reader.describe()["joint_states_topic"] == "/joint_states"


def test_start_names_the_silent_topics():
    robot, _ = make_robot(config=TopicHardwareConfig(start_timeout_s=0.1))
    robot.on_pose(pose_cdr(HOME_POSE, time.time_ns()))
    with pytest.raises(RobotError, match=r"no robot state on \['joint_states', 'gripper'\] after 0 s"):
        robot.start()
    no_gripper = TopicRobot(lambda raw: None, config=TopicHardwareConfig(gripper_topic="", start_timeout_s=1))
    feed(no_gripper)
    no_gripper.start()
    assert no_gripper.state().gripper_width == 0.0


def test_recover_reports_failures_as_robot_errors():
    calls = []
    ok = TopicRobot(lambda raw: None, recover_fn=lambda: calls.append(1))
    ok.recover()
    assert calls == [1]

    def broken():
        raise TimeoutError("ErrorRecovery action server /action_server/error_recovery not available")

    with pytest.raises(RobotError, match="error recovery failed: ErrorRecovery action server"):
        TopicRobot(lambda raw: None, recover_fn=broken).recover()
    with pytest.raises(RobotError, match="no error-recovery action is configured"):
        TopicRobot(lambda raw: None).recover()
    fresh = TopicRobot(lambda raw: None, recover_fn=lambda: calls.append(2))
    feed(fresh)
    fresh.recover()  # the arm reports: nothing to recover
    no_action = TopicRobot(lambda raw: None)
    feed(no_action)
    no_action.recover()  # no recovery configured is fine while the arm reports
    assert calls == [1]


# ---- end to end: the control loop over topics ---------------------------------------------------
class PushPolicy:
    """Asks for 3 cm per tick along +x: three times the safety layer's 1 cm step limit."""

    action_space = "ee_delta"
    proprio_keys = ("ee_pose", "gripper")

    def act(self, embedding, proprio, task=None):
        assert embedding.shape == (4,) and proprio.shape == (8,)
        return np.array([0.03, 0, 0, 0, 0, 0, 0.05])


def test_control_loop_over_topics_sends_only_bounded_commands(ros_bus, pixel_encoder):
    clock = MonotonicClock()
    camera, arm = FakeCamera(clock, height=24, width=32), FakeRobot(clock, state_rate_hz=100.0)
    # bounded commands are under test, not the watchdog (a loaded CPU can stall the fake arm's state)
    patient = WatchdogLimits(max_observation_age_s=1.0, max_state_age_s=0.5, stale_ticks=100)
    layer = SafetyLayer(SafetyLimits(watchdog=patient))
    with ros_bus(camera, arm) as bus:
        x0 = bus.topic_robot.state().ee_pose[0]
        loop = ControlLoop(
            bus.topic_camera,
            bus.topic_robot,
            pixel_encoder,
            PushPolicy(),
            layer,
            clock,
            perception="thread",
            torch_threads=None,
        )
        result = loop.run(25)
        assert result.completed, result.stop_reason
        assert len(arm.commands) >= 15  # commands crossed the 'bus' (a loaded CPU may hold a few ticks)
        poses = np.array([t.ee_pose for _, t in arm.commands])
        steps = np.diff(np.concatenate([[x0], poses[:, 0]]))
        # each command moves at most the step limit beyond where the arm was measured to be
        assert np.all(steps <= layer.limits.step.max_translation_m + 1e-6)
        assert bus.gripper_goal == pytest.approx(0.05)
        assert bus.topic_robot.state().ee_pose[0] > x0 + 0.05  # and the arm really moved


def test_control_loop_over_topics_holds_then_stops_when_the_state_topic_goes_silent(ros_bus, pixel_encoder):
    clock = MonotonicClock()
    camera, arm = FakeCamera(clock, height=24, width=32), FakeRobot(clock, state_rate_hz=100.0)
    with ros_bus(camera, arm) as bus:
        loop = ControlLoop(
            bus.topic_camera,
            bus.topic_robot,
            pixel_encoder,
            PushPolicy(),
            SafetyLayer(),
            clock,
            perception="thread",
            torch_threads=None,
        )
        threading.Timer(0.3, bus.freeze_state.set).start()
        result = loop.run(100)
        assert result.stop_reason.startswith("watchdog: stale robot state")
        n = len(arm.commands)
        time.sleep(0.4)  # the state is now older than the robot's own 0.5 s refusal bound
        assert len(arm.commands) == n  # nothing more after the stop
        with pytest.raises(RobotError, match="the arm stopped publishing"):
            bus.topic_robot.send(RobotTarget(gripper_width=0.05, ee_pose=bus.topic_robot.state().ee_pose))
