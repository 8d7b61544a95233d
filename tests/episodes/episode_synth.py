"""Synthetic episodes written through the real writer into real bags (test helper)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vipflow.episodes import EpisodeMeta, EpisodeWriter
from vipflow.hardware import Frame, RobotState

T0 = 1_000_000_000_000  # 1000 s on the backend clock


def frame_image(i: int, h: int = 24, w: int = 32) -> np.ndarray:
    """A frame whose pixels encode its index (so tests can tell which frame was chosen)."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = i % 256
    img[..., 1] = (i // 256) % 256
    img[..., 2] = np.arange(w, dtype=np.uint8)[None, :]
    return img


def state_at(t_ns: int, k: float) -> RobotState:
    q = np.linspace(0, 0.6, 7) + 0.001 * k
    pose = np.array([0.4 + 0.0005 * k, 0.0, 0.3, 0.0, 0.0, np.sin(0.001 * k), np.cos(0.001 * k)])
    return RobotState(t_ns, q, np.full(7, 0.01), pose, 0.08 - 0.0001 * k)


def write_synthetic(
    path: Path,
    seconds: float = 2.0,
    cam_hz: float = 30.0,
    state_hz: float = 100.0,
    jitter_ns: int = 0,
    label: str = "success",
    image_format: str = "raw",
    seed: int = 0,
    meta: EpisodeMeta | None = None,
    actions: str | None = None,
) -> Path:
    """Interleave camera and state samples in time order, as a recorder would."""
    rng = np.random.default_rng(seed)
    cam_t = T0 + np.round(np.arange(int(seconds * cam_hz)) * 1e9 / cam_hz).astype(np.int64)
    st_t = T0 + 1000 + np.round(np.arange(int(seconds * state_hz)) * 1e9 / state_hz).astype(np.int64)
    if jitter_ns:
        cam_t = np.sort(cam_t + rng.integers(0, jitter_ns, len(cam_t)))
        st_t = np.sort(st_t + rng.integers(0, jitter_ns, len(st_t)))
    meta = meta or EpisodeMeta(task="close drawer", camera={"fps": cam_hz}, robot={"state_rate_hz": state_hz})
    events = sorted(
        [(int(t), "c", i) for i, t in enumerate(cam_t)] + [(int(t), "s", i) for i, t in enumerate(st_t)]
    )
    with EpisodeWriter(path, meta, image_format=image_format, time_offset_ns=0) as w:
        for t, kind, i in events:
            if kind == "c":
                w.write_frame(Frame(t, frame_image(i)))
            else:
                w.write_state(state_at(t, i))
                if actions and i % 4 == 0:
                    w.write_action(t, np.full(7 if actions == "ee_delta" else 8, i, np.float32), actions)
                    w.write_reward(t, -float(i), 1.0)
        w.close(label)
    return path


def write_foreign(path: Path, encoding: str = "rgb8", with_camera: bool = True, n: int = 20) -> Path:
    """A bag as another tool might write it (no vipflow metadata), with a chosen image encoding."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    from vipflow.episodes import messages as m

    channels = {"rgb8": 3, "bgr8": 3, "mono8": 1, "16UC1": 2}[encoding]
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as w:
        conns = {
            t: w.add_connection(t, m.TOPIC_TYPES[t], typestore=m.TYPESTORE)
            for t in (m.TOPIC_IMAGE, m.TOPIC_JOINTS, m.TOPIC_EE_POSE, m.TOPIC_GRIPPER)
            if with_camera or t != m.TOPIC_IMAGE
        }
        for i in range(n):
            t = T0 + i * 40_000_000
            if with_camera:
                img = m.TYPESTORE.types[m.MSG_IMAGE](
                    header=m.header(t, "cam"),
                    height=8,
                    width=8,
                    encoding=encoding,
                    is_bigendian=0,
                    step=8 * channels,
                    data=np.full(64 * channels, i, np.uint8),
                )
                w.write(conns[m.TOPIC_IMAGE], t, m.serialize(img, m.MSG_IMAGE))
            s = state_at(t + 1, i)
            w.write(
                conns[m.TOPIC_JOINTS],
                t + 1,
                m.serialize(m.joint_state_msg(s, t + 1, m.DEFAULT_JOINT_NAMES), m.MSG_JOINTS),
            )
            w.write(
                conns[m.TOPIC_EE_POSE], t + 1, m.serialize(m.pose_msg(s.ee_pose, t + 1, "base"), m.MSG_POSE)
            )
            w.write(conns[m.TOPIC_GRIPPER], t + 1, m.serialize(m.float64_msg(s.gripper_width), m.MSG_FLOAT64))
    return path


def rewrite_messages(episode: Path, transform) -> Path:
    """Replace an episode's MCAP by one holding ``transform(messages)`` (a list of (topic, log time,
    raw CDR)), written by rosbags and sealed with correct checksums, keeping the recorded metadata:
    what a damaged copy whose bytes still check out, or a buggy third-party tool, would produce."""
    import os
    import shutil

    from rosbags.rosbag2 import StoragePlugin, Writer

    from vipflow.episodes import messages as m
    from vipflow.episodes.integrity import seal
    from vipflow.episodes.recovery import scan_mcap

    (mcap,) = episode.glob("*.mcap")
    msgs, why = scan_mcap(mcap)
    assert why == "complete"
    msgs = transform(list(msgs))
    work = episode.parent / f".{episode.name}.rewrite"
    with Writer(work, version=8, storage_plugin=StoragePlugin.MCAP) as w:
        conns = {t: w.add_connection(t, m.TOPIC_TYPES[t], typestore=m.TYPESTORE) for t in dict.fromkeys(
            x[0] for x in msgs)}
        for topic, t, raw in msgs:
            w.write(conns[topic], t, raw)
    (new,) = work.glob("*.mcap")
    seal(new)
    os.replace(new, mcap)
    shutil.rmtree(work)
    return episode
