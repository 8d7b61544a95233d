"""vip_reward_node as a process over DDS: images in, one embedding and one [value, reward] out per
frame carrying the image's stamp; the goal changes through the parameter service; bad images are
logged and skipped while the node keeps running.

Every published number is checked against the same encoder called in this process.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from rosproc import wait_until

from vipflow.rewards import values as reward_values

SIZE = 48
RATE_HZ = 30.0


def scene(i: int) -> np.ndarray:
    """A bright square sliding right over a dark background (RGB)."""
    img = np.full((SIZE, SIZE, 3), 40, np.uint8)
    x = 2 + 2 * (i % 18)
    img[12:30, x : x + 10] = (220, 180, 60)
    return img


def image_msg(rgb: np.ndarray, stamp_ns: int, encoding: str, *, step_extra: int = 0):
    from sensor_msgs.msg import Image

    if encoding == "bgr8":
        data = rgb[..., ::-1]
    elif encoding == "mono8":
        data = rgb.mean(axis=2).astype(np.uint8)  # what the node sees: grey in all three channels
    else:
        data = rgb
    msg = Image(height=SIZE, width=SIZE, encoding=encoding, is_bigendian=0)
    msg.step = SIZE * (1 if encoding == "mono8" else 3) + step_extra
    msg.data = np.ascontiguousarray(data).tobytes()
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    return msg


def as_seen(rgb: np.ndarray, encoding: str) -> np.ndarray:
    if encoding == "mono8":
        return np.repeat(rgb.mean(axis=2).astype(np.uint8)[..., None], 3, axis=2)
    return rgb


def stamp_of(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


@pytest.mark.slow
def test_reward_node_over_dds(ros, encoder_file, tmp_path):
    from geometry_msgs.msg import PointStamped
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters
    from std_msgs.msg import Float32MultiArray

    weights, encoder = encoder_file
    goals = []
    for i, frame in ((0, scene(17)), (1, scene(0))):
        path = tmp_path / f"goal{i}.png"
        cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        goals.append((path, encoder.embed_images(frame[None])[0]))
    node = ros.start(
        "vip_reward_node",
        parameters={
            "image_topic": "/t/image",
            "embedding_topic": "/t/embedding",
            "reward_topic": "/t/reward",
            "reward_stamped_topic": "/t/reward_stamped",
            "encoder": "vip",
            "encoder_arch": "convnet-small",
            "encoder_weights": str(weights),
            "goal.source": "images",
            "goal.images": [str(goals[0][0])],
        },
    )
    probe = ros.probe
    embeddings = probe.collect(Float32MultiArray, "/t/embedding")
    rewards = probe.collect(Float32MultiArray, "/t/reward")
    stamped = probe.collect(PointStamped, "/t/reward_stamped")
    images = probe.publisher(__import__("sensor_msgs.msg", fromlist=["Image"]).Image, "/t/image")
    node.wait_for_log(r"goal set from", timeout_s=120)
    wait_until(lambda: images.get_subscription_count() > 0, 30, "the node's image subscription", node)

    sent: dict[int, np.ndarray] = {}  # stamp -> the RGB the node should have encoded

    def stream(encoding: str, frames: range) -> None:
        for i in frames:
            stamp = probe.now_ns()
            rgb = scene(i)
            sent[stamp] = as_seen(rgb, encoding)
            images.publish(image_msg(rgb, stamp, encoding))
            time.sleep(1.0 / RATE_HZ)

    def settle(n: int) -> None:
        wait_until(
            lambda: len(stamped) >= n and len(embeddings) >= n and len(rewards) >= n, 30, f"{n} outputs", node
        )
        time.sleep(0.3)

    for encoding in ("rgb8", "bgr8", "mono8"):
        stream(encoding, range(12))
    settle(int(0.8 * len(sent)))  # newest-frame-only: a frame may be dropped under load, never doubled

    def check(goal: np.ndarray, first: int) -> None:
        n = len(stamped)
        assert len(embeddings) == len(rewards) == n, "one embedding and one [value, reward] per frame"
        stamps = [stamp_of(m) for _, m in stamped[first:]]
        assert len(set(stamps)) == len(stamps) and set(stamps) <= set(sent), (
            "each output carries a sent stamp"
        )
        frames = np.stack([sent[s] for s in stamps])
        want_emb = encoder.embed_images(frames)
        want_val = reward_values(want_emb, goal, encoder.similarity, 0.98)
        got_emb = np.stack([np.asarray(m.data, np.float32) for _, m in embeddings[first:]])
        got = np.array([m.data for _, m in rewards[first:]], np.float64)
        np.testing.assert_allclose(got_emb, want_emb, atol=1e-4)
        np.testing.assert_allclose(got[:, 0], want_val, atol=1e-4)
        np.testing.assert_allclose([m.point.x for _, m in stamped[first:]], got[:, 0], atol=1e-5)
        np.testing.assert_allclose(got[1:, 1], np.diff(got[:, 0]), atol=1e-4)  # reward = value change

    check(goals[0][1], 0)
    assert "vip/convnet-small" in embeddings[0][1].layout.dim[0].label

    # A new goal through the parameter service (what `ros2 param set` calls).
    value = ParameterValue(type=ParameterType.PARAMETER_STRING_ARRAY, string_array_value=[str(goals[1][0])])
    result = probe.call(
        SetParameters,
        "/vip_reward_node/set_parameters",
        SetParameters.Request(parameters=[Parameter(name="goal.images", value=value)]),
    )
    assert result.results[0].successful, result.results[0].reason
    wait_until(lambda: node.log().count("goal set from") >= 2, 30, "the new goal", node)
    before = len(stamped)
    sent.clear()
    stream("rgb8", range(10))
    settle(before + 8)
    check(goals[1][1], before)
    assert rewards[before][1].data[1] == 0.0  # a new goal: rewards start over

    # Bad images are named in the log and skipped; the node keeps serving.
    stamp = probe.now_ns()
    images.publish(image_msg(scene(1), stamp, "yuv422"))
    node.wait_for_log(r"frame skipped: .*'yuv422'", timeout_s=20)
    images.publish(image_msg(scene(2), probe.now_ns(), "rgb8", step_extra=7))  # step lies about the rows
    node.wait_for_log(r"frame skipped: .*step", timeout_s=20)
    before = len(stamped)
    stream("rgb8", range(5))
    settle(before + 4)
    assert node.proc.poll() is None
    assert stamp not in {stamp_of(m) for _, m in stamped}
