"""Acceptance: recorder episodes read back identically through rosbags' AnyReader and through
the independent mcap + mcap-ros2-support reader (which decodes CDR from the schema text stored
in the file, as Foxglove does)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from episode_synth import write_synthetic
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from vipflow.hardware.fake import FakeCamera, FakeRobot
from vipflow.record.keys import ScriptedKeys
from vipflow.record.session import RecorderSession, SessionConfig


def plain(value):
    """Nested python values of a decoded message, whichever library produced it."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (bytes, bytearray)):  # mcap_ros2 gives uint8[] as bytes, rosbags as numpy
        return list(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    fields = getattr(value, "__dataclass_fields__", None) or getattr(value, "__slots__", None)
    names = [f for f in (fields or vars(value)) if not f.startswith("_")]
    return {n: plain(getattr(value, n)) for n in names}


def via_anyreader(bag: Path):
    out = []
    with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as reader:
        for conn, t, raw in reader.messages():
            out.append(
                (conn.topic, conn.msgtype, t, bytes(raw), plain(reader.deserialize(raw, conn.msgtype)))
            )
    return out


def via_mcap(bag: Path):
    out = []
    (mcap_file,) = bag.glob("*.mcap")
    with open(mcap_file, "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        assert reader.get_header().profile == "ros2"
        for schema, channel, message, decoded in reader.iter_decoded_messages(log_time_order=True):
            assert schema.encoding == "ros2msg" and channel.message_encoding == "cdr"
            out.append((channel.topic, schema.name, message.log_time, bytes(message.data), plain(decoded)))
    return out


def assert_same(bag: Path) -> int:
    a, b = via_anyreader(bag), via_mcap(bag)
    assert len(a) == len(b) > 0
    key = lambda x: (x[2], x[0])  # noqa: E731  (same-time messages may come in either order)
    a, b = sorted(a, key=key), sorted(b, key=key)
    for x, y in zip(a, b, strict=True):
        assert x[:4] == y[:4]  # topic, type, log time, CDR bytes
        assert x[4] == y[4], f"{x[0]} decoded differently"
        if "header" in x[4]:  # our bags: header stamp == log time
            stamp = x[4]["header"]["stamp"]
            assert stamp["sec"] * 1_000_000_000 + stamp["nanosec"] == x[2]
    return len(a)


@pytest.mark.slow
def test_recorder_episode_reads_identically(tmp_path):
    cfg = SessionConfig(
        dataset=tmp_path / "ds",
        task="open drawer",
        num_episodes=1,
        episode_time_s=0.5,
        reset_time_s=0.0,
        state_rate_hz=100.0,
    )
    keys = ScriptedKeys([(0.05, "space"), (1.0, "s")])
    RecorderSession(
        cfg, FakeCamera(fps=30, height=24, width=32), FakeRobot(state_rate_hz=1000), keys, out=io.StringIO()
    ).run()
    n = assert_same(tmp_path / "ds" / "episode_0000")
    assert n > 4 * 14  # ~15 frames plus three state topics at ~100 Hz


@pytest.mark.parametrize("fmt", ["jpeg"])
def test_rollout_topics_read_identically(tmp_path, fmt):
    bag = write_synthetic(tmp_path / "rollout", seconds=0.5, image_format=fmt, actions="ee_delta")
    assert assert_same(bag) > 0
    topics = {x[0] for x in via_mcap(bag)}
    assert {"/action", "/reward", "/camera/color/image_raw/compressed"} <= topics
