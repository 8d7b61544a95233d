"""Episode format: writer -> bag -> reader, the causal grid, listing, named errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from episode_synth import T0, state_at, write_synthetic
from hypothesis import given, settings
from hypothesis import strategies as st

from vipflow.actions import actions_from_states
from vipflow.episodes import (
    CorruptBagError,
    EpisodeMeta,
    ImageEncodingError,
    MissingTopicError,
    TruncatedBagError,
    list_episodes,
    read_episode,
    write_manifest,
)
from vipflow.episodes import messages as m
from vipflow.episodes.grid import causal_index, grid_ticks


def test_round_trip_meta_topics_and_metadata_version(dataset):
    meta = EpisodeMeta(
        task="close drawer",
        goal_text="drawer closed",
        operator="ada",
        tags=["expert"],
        camera={"fps": 30.0},
        robot={"state_rate_hz": 100.0},
        source="test",
    )
    path = write_synthetic(dataset / "episode_0000", meta=meta, label="failure")
    ep = read_episode(path)
    assert ep.meta.task == "close drawer" and ep.meta.label == "failure" and ep.meta.tags == ["expert"]
    assert ep.meta.camera["width"] == 32 and ep.meta.camera["height"] == 24
    assert ep.topics[m.TOPIC_IMAGE] == (m.MSG_IMAGE, 60)
    assert ep.topics[m.TOPIC_JOINTS] == (m.MSG_JOINTS, 200)
    info = yaml.safe_load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["version"] == 8 and info["storage_identifier"] == "mcap"
    # Humble parses offered_qos_profiles as a string: version 8 keeps it one.
    assert all(
        isinstance(t["topic_metadata"]["offered_qos_profiles"], str)
        for t in info["topics_with_message_count"]
    )
    side = json.loads((path / "episode.json").read_text())
    assert side["meta"]["operator"] == "ada" and side["counts"]["camera"] == 60
    assert not (dataset / ".partial" / "episode_0000").exists()


def test_humble_and_jazzy_definitions_agree():
    from rosbags.typesys import Stores, get_typestore

    jazzy = get_typestore(Stores.ROS2_JAZZY)
    for t in set(m.TOPIC_TYPES.values()):
        assert m.TYPESTORE.generate_msgdef(t, ros_version=2) == jazzy.generate_msgdef(t, ros_version=2)
        assert m.TYPESTORE.hash_rihs01(t) == jazzy.hash_rihs01(t)


def test_grid_is_causal_and_latest(dataset):
    path = write_synthetic(dataset / "ep", seconds=3.0, jitter_ns=9_000_000, seed=3)
    ep = read_episode(path)
    g = ep.on_grid(25.0)
    cam_t = np.array([t for t, _ in ep.frames()])
    assert len(g) == len(g.frames) == len(g.joint_pos) > 60
    assert np.all(np.diff(g.t_ns) == 40_000_000)
    # each tick's frame is the latest one at or before the tick, never a future one
    assert np.all(g.frame_t_ns <= g.t_ns)
    nxt = np.searchsorted(cam_t, g.frame_t_ns, side="right")
    assert np.all((nxt == len(cam_t)) | (cam_t[np.minimum(nxt, len(cam_t) - 1)] > g.t_ns))
    # pixel channel 0 encodes the frame index
    idx = np.searchsorted(cam_t, g.frame_t_ns)
    assert np.array_equal(g.frames[:, 0, 0, 0], idx % 256)
    st = ep.states()
    ji = np.searchsorted(st.joints_t, g.t_ns, side="right") - 1
    assert np.allclose(g.joint_pos, st.joint_pos[ji]) and np.all(st.joints_t[ji] <= g.t_ns)
    # the raw streams hold exactly what was written (state k is stamped and valued by k)
    k = np.arange(len(st.joints_t))
    expected = [state_at(0, i) for i in k]
    assert np.array_equal(st.ee_pose, np.stack([e.ee_pose for e in expected]))
    assert np.array_equal(st.gripper, [e.gripper_width for e in expected])
    assert np.array_equal(st.joint_vel, np.stack([e.joint_vel for e in expected]))


def test_actions_use_the_shared_definition(dataset):
    g = read_episode(write_synthetic(dataset / "ep")).on_grid()
    for space in ("ee_delta", "joint_delta"):
        a = g.actions_for(space)
        assert a.shape[0] == len(g) - 1
        assert np.array_equal(a, actions_from_states(space, g.joint_pos, g.ee_pose, g.gripper))
    assert g.actions is None


def test_recorded_actions_and_rewards_on_grid(dataset):
    g = read_episode(write_synthetic(dataset / "ep", actions="joint_delta")).on_grid()
    assert g.actions.shape == (len(g), 8) and g.rewards.shape == (len(g), 2)
    assert g.meta.action_space == "joint_delta"
    assert np.all(g.rewards[~np.isnan(g.rewards[:, 1]), 1] == 1.0)


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_compressed_images(dataset, fmt):
    ep = read_episode(write_synthetic(dataset / fmt, image_format=fmt))
    assert ep.image_topic == m.TOPIC_IMAGE_COMPRESSED
    g = ep.on_grid()
    assert g.frames.dtype == np.uint8 and g.frames.shape[1:] == (24, 32, 3)
    tol = 0 if fmt == "png" else 12
    assert np.abs(g.frames[:, 0, 5:, 2].astype(int) - np.arange(5, 32)).max() <= tol


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10**9), min_size=2, max_size=40, unique=True), st.floats(5, 60))
def test_causal_index_property(stamps, rate):
    stamps = np.sort(np.array(stamps, np.int64))
    ticks = grid_ticks([int(stamps[0])], [int(stamps[-1])], rate)
    idx = causal_index(stamps, ticks)
    assert np.all(idx >= 0) and np.all(stamps[idx] <= ticks)
    assert np.all((idx == len(stamps) - 1) | (stamps[np.minimum(idx + 1, len(stamps) - 1)] > ticks))


def test_listing_and_manifest(dataset):
    for i, label in enumerate(["success", "failure", "success"]):
        write_synthetic(dataset / f"episode_{i:04d}", label=label, seconds=0.5)
    eps = list_episodes(dataset)
    assert [e.name for e in eps] == ["episode_0000", "episode_0001", "episode_0002"]
    assert [e.label for e in eps] == ["success", "failure", "success"] and all(e.usable for e in eps)
    assert abs(eps[0].duration_s - 0.5) < 0.05
    manifest = json.loads(write_manifest(dataset).read_text())
    assert manifest["counts"] == {"total": 3, "usable": 3, "labels": {"success": 2, "failure": 1}}


def test_truncated_bag_named(dataset):
    path = write_synthetic(dataset / "ep")
    mcap = next(path.glob("*.mcap"))
    data = mcap.read_bytes()
    mcap.write_bytes(data[: len(data) // 2])
    with pytest.raises(TruncatedBagError, match="truncated"):
        read_episode(path)


def test_truncated_bag_advice_fits_where_it_lies(dataset):
    """`recover` only salvages `.partial` recordings: a finished episode whose MCAP lost its end
    (an incomplete copy) must not be sent there, where it would find nothing to recover."""
    for where in (dataset / "episode_0000", dataset / ".partial" / "episode_0001"):
        mcap = next(write_synthetic(where).glob("*.mcap"))
        mcap.write_bytes(mcap.read_bytes()[:-100])
    with pytest.raises(TruncatedBagError) as finished:
        read_episode(dataset / "episode_0000")
    assert "recover" not in str(finished.value) and "copy the episode again" in str(finished.value)
    with pytest.raises(TruncatedBagError, match=r"vipflow episodes recover "):
        read_episode(dataset / ".partial" / "episode_0001")


def test_corrupt_bag_named(dataset):
    path = write_synthetic(dataset / "ep")
    mcap = next(path.glob("*.mcap"))
    mcap.write_bytes(b"NOTMCAP!" + mcap.read_bytes()[8:])
    with pytest.raises(CorruptBagError, match="not an MCAP"):
        read_episode(path)


def test_missing_topic_named(dataset, tmp_path):
    from rosbags.rosbag2 import StoragePlugin, Writer

    bag = dataset / "no_camera"
    with Writer(bag, version=8, storage_plugin=StoragePlugin.MCAP) as w:
        c = w.add_connection(m.TOPIC_JOINTS, m.MSG_JOINTS, typestore=m.TYPESTORE)
        from episode_synth import state_at

        for i in range(5):
            msg = m.joint_state_msg(state_at(T0 + i, i), T0 + i, m.DEFAULT_JOINT_NAMES)
            w.write(c, T0 + i, m.serialize(msg, m.MSG_JOINTS))
    ep = read_episode(bag)  # a foreign bag: opens, with default metadata
    with pytest.raises(MissingTopicError, match=r"/camera/color/image_raw.*/ee_pose, /gripper/width missing"):
        ep.on_grid()


def test_wrong_encoding_named(dataset):
    from rosbags.rosbag2 import StoragePlugin, Writer

    bag = dataset / "mono"
    with Writer(bag, version=8, storage_plugin=StoragePlugin.MCAP) as w:
        c = w.add_connection(m.TOPIC_IMAGE, m.MSG_IMAGE, typestore=m.TYPESTORE)
        img = m.TYPESTORE.types[m.MSG_IMAGE](
            header=m.header(T0, "cam"),
            height=4,
            width=4,
            encoding="16UC1",
            is_bigendian=0,
            step=8,
            data=np.zeros(32, np.uint8),
        )
        w.write(c, T0, m.serialize(img, m.MSG_IMAGE))
    ep = read_episode(bag)
    with pytest.raises(ImageEncodingError, match="16UC1"):
        next(ep.frames())
