"""Crash-safe episode writer: one rosbag2 directory (MCAP storage) per episode.

Why it looks like this:
- The bag is written under ``.partial/`` and renamed into the dataset only when closed, so a
  killed recorder can never leave something that looks finished.
- rosbags' MCAP writer keeps up to 1 MiB of messages in memory per chunk; we close the chunk
  and flush to the kernel every ``flush_interval_s`` so a SIGKILL loses at most that much time.
  Everything already flushed is recoverable message by message (see ``recovery``).
- Metadata version 8: its ``offered_qos_profiles`` is a YAML *string*, the form Humble's
  parser (version 5 writer) expects; Jazzy (version 9 writer) reads every older version.
  Version 9's list form makes Humble fail with "yaml-cpp: bad conversion".
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.rosbag2.errors import WriterError

from vipflow.actions import action_space
from vipflow.durable import atomic_write_text, free_bytes, fsync_dir, fsync_file
from vipflow.episodes import messages as m
from vipflow.episodes.cadence import CadenceReport, CadenceThresholds, cadence_report, nominal_rates
from vipflow.episodes.errors import DatasetNotWritableError, DiskFullError, EpisodeWriteError
from vipflow.episodes.integrity import seal
from vipflow.episodes.layout import EPISODE_JSON, dataset_of, staging_path
from vipflow.episodes.meta import FORMAT_VERSION, FORMAT_VERSION_KEY, META_KEY, EpisodeMeta, check_label
from vipflow.hardware import Frame, RobotState

BAG_VERSION = 8


def os_error_to_episode_error(exc: OSError, where: Path, doing: str) -> EpisodeWriteError:
    """Translate an OS failure into a named error that says what to do."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        free = free_bytes(where)
        return DiskFullError(
            errno.ENOSPC,
            f"disk full while {doing} {where} ({free / 1e6:.0f} MB free). Free space or record to "
            f"another disk (--dataset); what was written so far stays in {where} and "
            f"`vipflow episodes recover {dataset_of(where)}` turns it into an episode flagged incomplete",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return DatasetNotWritableError(
            exc.errno,
            f"cannot write {where} while {doing}: {os.strerror(exc.errno or 0)}. Choose a writable "
            f"dataset directory (--dataset) or fix its permissions (ls -ld {where.parent})",
        )
    return EpisodeWriteError(exc.errno or 0, f"{doing} {where} failed: {exc}")


class EpisodeWriter:
    """Write one episode. Use as a context manager or call ``close(label)``.

    Stamps of frames and states are on the backend's monotonic clock; bag timestamps (log time
    and header stamp, identical) are ``stamp_ns + time_offset_ns``, by default the offset that
    maps ``time.monotonic_ns`` to UNIX time, so ``ros2 bag info`` shows wall-clock dates.
    """

    def __init__(
        self,
        path: str | Path,
        meta: EpisodeMeta,
        image_format: str = "raw",
        *,
        time_offset_ns: int | None = None,
        flush_interval_s: float = 1.0,
        jpeg_quality: int = 90,
        thresholds: CadenceThresholds | None = None,
    ) -> None:
        self.path = Path(path)
        self.meta = meta
        self.image_format = image_format
        self.image_topic = m.image_topic(image_format)
        self.jpeg_quality = jpeg_quality
        self.flush_interval_s = flush_interval_s
        self.thresholds = thresholds
        self.offset_ns = int(
            time.time_ns() - time.monotonic_ns() if time_offset_ns is None else time_offset_ns
        )
        self.meta.extra["clock_offset_ns"] = self.offset_ns
        self.meta.camera.setdefault("image_format", image_format)
        self.joint_names = tuple(meta.robot.get("joint_names") or m.DEFAULT_JOINT_NAMES)
        self.base_frame = str(meta.robot.get("base_frame", "base"))
        self.staging = staging_path(self.path)
        self._lock = threading.Lock()
        self._stamps: dict[str, list[int]] = {k: [] for k in m.TOPIC_STREAM.values()}
        self._queue_drops: dict[str, int] = {}
        self._failed: EpisodeWriteError | None = None
        self._closed = False
        self._last_flush = time.monotonic()
        if self.path.exists():
            raise EpisodeWriteError(
                errno.EEXIST, f"{self.path} exists already; episodes are never overwritten"
            )
        if self.staging.exists():
            raise EpisodeWriteError(
                errno.EEXIST,
                f"{self.staging} is left from an interrupted recording; run `vipflow episodes recover "
                f"{self.path.parent}` first",
            )
        self._bag = Writer(self.staging, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        with self._guard("creating"):
            self.staging.parent.mkdir(parents=True, exist_ok=True)
            self._bag.open()
            self._conns = {
                topic: self._bag.add_connection(topic, m.TOPIC_TYPES[topic], typestore=m.TYPESTORE)
                for topic in (self.image_topic, m.TOPIC_JOINTS, m.TOPIC_EE_POSE, m.TOPIC_GRIPPER)
            }
            self._flush()
            # Metadata must survive a crash too: recovery reads it from here.
            atomic_write_text(
                self.staging / EPISODE_JSON,
                json.dumps({"format": FORMAT_VERSION, "meta": self.meta.to_dict(), "recording": True}),
            )

    # -- context manager -------------------------------------------------------------------
    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._closed:
            return
        if self._failed is not None:
            self.abandon()
        elif exc is None:
            self.close()
        else:
            # Keep what was recorded, but flag it so nobody trains on it unknowingly.
            self.meta.incomplete = True
            self.meta.extra["error"] = f"{exc_type.__name__}: {exc}"
            self.close()

    # -- writing ---------------------------------------------------------------------------
    def write_frame(self, frame: Frame) -> None:
        if "width" not in self.meta.camera:
            self.meta.camera.update(width=int(frame.rgb.shape[1]), height=int(frame.rgb.shape[0]))
        stamp = frame.stamp_ns + self.offset_ns
        msg = m.image_msg(frame, stamp, self.image_format, self.jpeg_quality)
        raw = m.serialize(msg, m.TOPIC_TYPES[self.image_topic])
        self._write("camera", self.image_topic, stamp, raw)

    def write_state(self, state: RobotState) -> None:
        stamp = state.stamp_ns + self.offset_ns
        self._write(
            "joint_states",
            m.TOPIC_JOINTS,
            stamp,
            m.serialize(m.joint_state_msg(state, stamp, self.joint_names), m.MSG_JOINTS),
        )
        self._write(
            "ee_pose",
            m.TOPIC_EE_POSE,
            stamp,
            m.serialize(m.pose_msg(state.ee_pose, stamp, self.base_frame), m.MSG_POSE),
        )
        self._write(
            "gripper", m.TOPIC_GRIPPER, stamp, m.serialize(m.float64_msg(state.gripper_width), m.MSG_FLOAT64)
        )

    def write_action(self, stamp_ns: int, action: np.ndarray, space: str) -> None:
        spec = action_space(space)
        action = np.asarray(action, dtype=np.float32).reshape(-1)
        if action.shape != (spec.dim,):
            raise ValueError(f"{space} action must have {spec.dim} values, got {action.size}")
        self.meta.action_space = self.meta.action_space or space
        stamp = stamp_ns + self.offset_ns
        self._write(
            "action",
            m.TOPIC_ACTION,
            stamp,
            m.serialize(m.float32_array_msg(action, space), m.MSG_FLOAT32_ARRAY),
        )

    def write_reward(self, stamp_ns: int, value: float, reward: float) -> None:
        stamp = stamp_ns + self.offset_ns
        self._write(
            "reward",
            m.TOPIC_REWARD,
            stamp,
            m.serialize(m.float32_array_msg([value, reward], "value,reward"), m.MSG_FLOAT32_ARRAY),
        )

    def write_raw(self, topic: str, stamp_ns: int, raw: bytes) -> None:
        """Write an already serialized message at bag time ``stamp_ns`` (used by recovery)."""
        if topic not in m.TOPIC_STREAM:
            raise ValueError(f"{topic} is not an episode topic ({sorted(m.TOPIC_STREAM)})")
        self._write(m.TOPIC_STREAM[topic], topic, stamp_ns, raw)

    def count_dropped(self, stream: str, n: int = 1) -> None:
        """Record samples that never reached the writer (e.g. a full recorder queue)."""
        self._queue_drops[stream] = self._queue_drops.get(stream, 0) + n

    def _write(self, stream: str, topic: str, stamp: int, raw: bytes) -> None:
        with self._lock:
            if self._failed is not None:
                raise self._failed
            if self._closed:
                raise EpisodeWriteError(errno.EBADF, f"{self.path} is closed")
            with self._guard("writing"):
                conn = self._conns.get(topic)
                if conn is None:
                    conn = self._conns[topic] = self._bag.add_connection(
                        topic, m.TOPIC_TYPES[topic], typestore=m.TYPESTORE
                    )
                self._bag.write(conn, stamp, raw)
                self._stamps[stream].append(stamp)
                if time.monotonic() - self._last_flush >= self.flush_interval_s:
                    self._flush()

    def _flush(self) -> None:
        """Push buffered messages to the kernel (a SIGKILL then cannot lose them)."""
        storage = self._bag.storage
        chunk = getattr(storage, "chunk", None)
        if chunk is not None and chunk.bio.tell():
            storage.close_chunk()
        bio = getattr(storage, "bio", None)
        if bio is not None:
            bio.flush()
        self._last_flush = time.monotonic()

    # -- closing ---------------------------------------------------------------------------
    def cadence(self) -> CadenceReport:
        stamps = {
            k: np.asarray(v, np.int64)
            for k, v in self._stamps.items()
            if v or k in ("camera", "joint_states")
        }
        return cadence_report(
            stamps, nominal_rates(self.meta), self.meta.nominal_rate_hz, self._queue_drops, self.thresholds
        )

    def close(self, label: str | None = None) -> Path:
        """Finish the bag, write metadata, and move the episode into the dataset. Returns its path."""
        with self._lock:
            if self._closed:
                return self.path
            if self._failed is not None:
                raise self._failed
            if label is not None:
                self.meta.label = check_label(label)
            report = self.cadence()
            start, end = self._bag.min_timestamp, self._bag.max_timestamp
            info = episode_info(
                self.meta, report, {k: len(v) for k, v in self._stamps.items()}, max(0, end - start) / 1e9
            )
            with self._guard("finishing"):
                self._bag.set_custom_data(META_KEY, self.meta.to_json())
                self._bag.set_custom_data(FORMAT_VERSION_KEY, FORMAT_VERSION)
                self._bag.set_custom_data("vipflow.cadence", json.dumps(report.to_dict()))
                self._bag.close()
                for f in self.staging.glob("*.mcap"):
                    seal(f)  # rosbags leaves every MCAP CRC 0; readers verify them (integrity.py)
                for f in self.staging.iterdir():
                    fsync_file(f)
                atomic_write_text(self.staging / EPISODE_JSON, json.dumps(info, indent=2, sort_keys=True))
                os.replace(self.staging, self.path)
                fsync_dir(self.path.parent)
            self._closed = True
            self.report = report
            return self.path

    def abandon(self) -> None:
        """Stop writing after a failure, leaving ``.partial`` for recovery (never deletes data)."""
        with self._lock:
            self._closed = True
            bio = getattr(self._bag.storage, "bio", None)
            if bio is not None:
                # If the kernel refuses the last buffered bytes (disk full) they are lost;
                # everything flushed before is intact and recoverable.
                with contextlib.suppress(OSError):
                    bio.close()
            self._bag.storage = None

    def _guard(self, doing: str):
        return _Guard(self, doing)


class _Guard:
    """Turns OSError/WriterError inside a write into a named, sticky error."""

    def __init__(self, writer: EpisodeWriter, doing: str) -> None:
        self.writer, self.doing = writer, doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            return False
        where = self.writer.staging
        if isinstance(exc, OSError) and not isinstance(exc, EpisodeWriteError):
            err = os_error_to_episode_error(exc, where, f"{self.doing} episode")
        elif isinstance(exc, WriterError):
            err = EpisodeWriteError(errno.EIO, f"{self.doing} episode {where} failed: {exc}")
        else:
            return False
        self.writer._failed = err
        raise err from exc


def episode_info(meta: EpisodeMeta, report: CadenceReport, counts: dict[str, int], duration_s: float) -> dict:
    """Contents of ``episode.json``: metadata plus what a listing needs without opening the bag."""
    return {
        "format": FORMAT_VERSION,
        "meta": meta.to_dict(),
        "cadence": report.to_dict(),
        "counts": counts,
        "duration_s": duration_s,
    }
