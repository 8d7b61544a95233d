"""Reading episodes back: metadata, raw streams, and the causal fixed-rate view.

Timestamps used for resampling are the bag's log times (arrival times for bags recorded by
``ros2 bag record``; capture stamps for ours, where log time == header stamp). Arrival time is
what a live policy conditions on, so a grid built from it never hands training a sample the
robot could not have had at that tick.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from rosbags.rosbag2 import Reader

from vipflow.actions import actions_from_states
from vipflow.episodes import messages as m
from vipflow.episodes.cadence import CadenceReport, CadenceThresholds, cadence_report, nominal_rates
from vipflow.episodes.errors import (
    CorruptBagError,
    EpisodeNotFoundError,
    ImageEncodingError,
    IncompleteEpisodeError,
    MetadataError,
    MissingMessagesError,
    MissingTopicError,
    TimestampError,
    TruncatedBagError,
)
from vipflow.episodes.grid import causal_index, grid_ticks
from vipflow.episodes.integrity import check_summary, read_messages
from vipflow.episodes.layout import EPISODE_JSON, METADATA_YAML, PARTIAL_DIR, dataset_of
from vipflow.episodes.meta import FORMAT_VERSION_KEY, META_KEY, SEALED_FORMATS, EpisodeMeta
from vipflow.errors import one_line

MCAP_MAGIC = b"\x89MCAP0\r\n"
STATE_TOPICS = (m.TOPIC_JOINTS, m.TOPIC_EE_POSE, m.TOPIC_GRIPPER)


@dataclass
class StateStreams:
    """Robot state as recorded: each topic with its own arrival times."""

    joints_t: np.ndarray  # (N,) ns
    joint_pos: np.ndarray  # (N, 7)
    joint_vel: np.ndarray  # (N, 7)
    joint_names: list[str]
    ee_t: np.ndarray
    ee_pose: np.ndarray  # (M, 7)
    gripper_t: np.ndarray
    gripper: np.ndarray  # (K,)


@dataclass
class GridEpisode:
    """An episode on the fixed control grid; row i is what a policy would have seen at tick i."""

    t_ns: np.ndarray  # (T,) bag time of each tick
    frames: np.ndarray | None  # (T, H, W, 3) uint8 RGB (None if frames=False)
    joint_pos: np.ndarray  # (T, 7)
    joint_vel: np.ndarray  # (T, 7)
    ee_pose: np.ndarray  # (T, 7)
    gripper: np.ndarray  # (T,)
    actions: np.ndarray | None  # (T, dim) recorded commands (rollouts), None for demos
    meta: EpisodeMeta
    frame_t_ns: np.ndarray = field(
        default_factory=lambda: np.zeros(0, np.int64)
    )  # stamp of each chosen frame
    rewards: np.ndarray | None = None  # (T, 2) recorded [value, reward] (rollouts), else None
    rate_hz: float = 25.0

    def __len__(self) -> int:
        return len(self.t_ns)

    def actions_for(self, space: str | None = None) -> np.ndarray:
        """(T-1, dim) actions derived from consecutive grid states (vipflow.actions)."""
        space = space or self.meta.action_space or "ee_delta"
        return actions_from_states(space, self.joint_pos, self.ee_pose, self.gripper)


def check_mcap_complete(path: Path) -> None:
    """Raise TruncatedBagError/CorruptBagError unless ``path`` starts and ends with MCAP magic."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            f.seek(max(0, size - 8))
            tail = f.read(8)
    except OSError as exc:
        raise CorruptBagError(f"{path}: cannot read ({one_line(exc)})") from exc
    if head != MCAP_MAGIC:
        raise CorruptBagError(f"{path} is not an MCAP file (bad magic {head!r}); the file is damaged")
    if tail != MCAP_MAGIC or size < 16:
        if path.parent.parent.name == PARTIAL_DIR:  # `recover` salvages only interrupted recordings
            fix = (
                f"the recording was interrupted. Run `vipflow episodes recover {dataset_of(path.parent)}` "
                "to salvage its messages as an episode flagged incomplete"
            )
        else:
            fix = (
                "the episode was finished, so the copy is incomplete or the file was damaged later: copy "
                f"the episode again from its source, or delete it (`vipflow episodes delete {path.parent}`)"
            )
        raise TruncatedBagError(f"{path} is truncated ({size} bytes, no MCAP footer): {fix}")


class Episode:
    """One recorded episode. Opening reads metadata only; streams are read on demand.

    Every read verifies what it reads: MCAP checksums, per-topic stamps that never go backwards,
    message counts equal to those recorded, robot-state streams that agree (vipflow recordings
    write joints, pose and gripper together), and images consistent with their data and with the
    episode's camera configuration. Each failure is a named EpisodeError, never a wrong array.
    """

    def __init__(
        self,
        path: Path,
        meta: EpisodeMeta,
        topics: dict[str, tuple[str, int]],
        stored_cadence: CadenceReport | None,
        *,
        native: bool = False,
    ) -> None:
        self.path = path
        self.meta = meta
        self.topics = topics  # topic -> (msgtype, message count)
        self.stored_cadence = stored_cadence
        self.native = native  # recorded by vipflow (states written together, counts stored)
        self.mcap = _find_mcap(path)
        cam = meta.camera
        dims = (cam.get("height"), cam.get("width"))
        self.frame_size: tuple[int, int] | None = (
            (dims[0], dims[1]) if all(isinstance(d, int) and not isinstance(d, bool) for d in dims) else None
        )

    def __repr__(self) -> str:
        return f"Episode({self.path.name}, label={self.meta.label}, task={self.meta.task!r})"

    def _has(self, topic: str) -> bool:
        return self.topics.get(topic, ("", 0))[1] > 0

    @property
    def image_topic(self) -> str:
        for topic in (m.TOPIC_IMAGE, m.TOPIC_IMAGE_COMPRESSED):
            if self._has(topic):
                return topic
        raise self._missing([f"{m.TOPIC_IMAGE} (or {m.TOPIC_IMAGE_COMPRESSED})"])

    def _missing(self, topics: list[str]) -> MissingTopicError:
        present = ", ".join(f"{t} ({n})" for t, (_, n) in sorted(self.topics.items())) or "none"
        return MissingTopicError(
            f"{self.path.name}: topic(s) {', '.join(topics)} missing or empty (present: {present}). "
            "Record them, or remap the source topics to these names (see docs/episodes.md, Topics)"
        )

    def require(self, *, camera: bool = True, state: bool = True) -> None:
        """Raise MissingTopicError naming every absent stream the grid view needs."""
        missing = [t for t in STATE_TOPICS if state and not self._has(t)]
        if camera and not (self._has(m.TOPIC_IMAGE) or self._has(m.TOPIC_IMAGE_COMPRESSED)):
            missing.insert(0, f"{m.TOPIC_IMAGE} (or {m.TOPIC_IMAGE_COMPRESSED})")
        if missing:
            raise self._missing(missing)

    def messages(self, topics: list[str] | tuple[str, ...]) -> Iterator[tuple[str, int, bytes]]:
        """(topic, log time ns, raw CDR) of ``topics``, each topic in recorded order.

        Checksums are verified as chunks are read (CorruptBagError); a stamp older than the
        previous one of its topic is a TimestampError; a complete pass holding another number of
        messages than the recording stored is a MissingMessagesError.
        """
        wanted = [t for t in topics if t in self.topics]
        if not wanted:
            return
        last: dict[str, int] = {}
        seen = dict.fromkeys(wanted, 0)
        for topic, t, raw in read_messages(self.mcap, wanted):
            if t < last.get(topic, t):
                back_ms = (last[topic] - t) / 1e6
                raise TimestampError(
                    f"{self.path.name}: {topic} message {seen[topic]} is stamped {back_ms:.3f} ms "
                    "before the one recorded before it: the recording clock ran backwards, so no causal "
                    f"grid exists. Re-record the episode or delete it (`vipflow episodes delete {self.path}`)"
                )
            last[topic] = t
            seen[topic] += 1
            yield topic, t, raw
        self._check_counts(seen)

    def _check_counts(self, seen: dict[str, int]) -> None:
        """Messages per stream read from the bag == counted by the writer when it closed."""
        stored = self.stored_cadence.streams if self.stored_cadence else {}
        for topic, n in seen.items():
            stream = stored.get(m.TOPIC_STREAM.get(topic, ""))
            if stream is not None and stream.count != n:
                raise MissingMessagesError(
                    f"{self.path.name}: the bag holds {n} {topic} message(s) but {stream.count} were "
                    "recorded; messages were lost or added after recording. Copy the episode again from its "
                    f"source or delete it (`vipflow episodes delete {self.path}`)"
                )

    def decode(self, topic: str, raw: bytes):
        return _deserialize(raw, self.topics[topic][0], self.path, topic)

    def _image(self, topic: str, raw: bytes, t: int) -> np.ndarray:
        """Decode one frame and check its size against the camera configuration (or the first frame)."""
        msgtype = self.topics[topic][0]
        where = f"{self.path.name} {topic} at {t}"
        rgb = m.decode_image(_deserialize(raw, msgtype, self.path, topic), msgtype, where)
        if self.frame_size is None:
            self.frame_size = rgb.shape[:2]
        elif rgb.shape[:2] != tuple(self.frame_size):
            raise ImageEncodingError(
                f"{where}: the image is {rgb.shape[1]}x{rgb.shape[0]} but the episode's camera is "
                f"{self.frame_size[1]}x{self.frame_size[0]}; its width/height/step fields are damaged. "
                f"Copy the episode again or delete it (`vipflow episodes delete {self.path}`)"
            )
        return rgb

    def states(self) -> StateStreams:
        self.require(camera=False)
        cols: dict[str, list] = {t: [] for t in STATE_TOPICS}
        names: list[str] = []
        for topic, t, raw in self.messages(STATE_TOPICS):
            msg = self.decode(topic, raw)
            if topic == m.TOPIC_JOINTS:
                names = names or list(msg.name)
                cols[topic].append(
                    (t, np.asarray(msg.position, np.float64)[:7], np.asarray(msg.velocity, np.float64)[:7])
                )
            elif topic == m.TOPIC_EE_POSE:
                cols[topic].append((t, m.pose_array(msg)))
            else:
                cols[topic].append((t, float(msg.data)))
        j, e, g = cols[m.TOPIC_JOINTS], cols[m.TOPIC_EE_POSE], cols[m.TOPIC_GRIPPER]
        if any(len(x[1]) != 7 for x in j):
            raise CorruptBagError(
                f"{self.path.name}: a {m.TOPIC_JOINTS} message has fewer than 7 joint positions; the "
                "recording is not of a 7-joint arm or the bag is damaged"
            )
        stamps = [np.array([x[0] for x in c], np.int64) for c in (j, e, g)]
        paired = np.array_equal(stamps[0], stamps[1]) and np.array_equal(stamps[0], stamps[2])
        if self.native and not paired:
            counts = ", ".join(f"{t} {len(c)}" for t, c in cols.items())
            raise MissingMessagesError(
                f"{self.path.name}: robot state streams disagree ({counts}); vipflow writes joints, pose and "
                "gripper together, so messages are missing. Copy the episode again or delete it"
            )
        vel = [x[2] if len(x[2]) == 7 else np.full(7, np.nan) for x in j]
        return StateStreams(
            joints_t=stamps[0],
            joint_pos=np.stack([x[1] for x in j]),
            joint_vel=np.stack(vel),
            joint_names=names,
            ee_t=stamps[1],
            ee_pose=np.stack([x[1] for x in e]),
            gripper_t=stamps[2],
            gripper=np.array([x[1] for x in g], np.float64),
        )

    def _arrays(self, topic: str) -> tuple[np.ndarray, np.ndarray]:
        """Stamps and (N, k) data of a Float32MultiArray topic."""
        rows = [
            (t, np.asarray(self.decode(topic, raw).data, np.float32)) for _, t, raw in self.messages([topic])
        ]
        return np.array([r[0] for r in rows], np.int64), np.stack([r[1] for r in rows])

    def frames(self) -> Iterator[tuple[int, np.ndarray]]:
        """Every recorded frame as (log time ns, RGB array), decoded one at a time."""
        topic = self.image_topic
        for _, t, raw in self.messages([topic]):
            yield t, self._image(topic, raw, t)

    def stamps(self) -> dict[str, np.ndarray]:
        """Arrival times per cadence stream (camera, joint_states, ee_pose, gripper, action, reward)."""
        out: dict[str, list[int]] = {}
        for topic, t, _ in self.messages([t for t in m.TOPIC_STREAM if t in self.topics]):
            out.setdefault(m.TOPIC_STREAM[topic], []).append(t)
        return {k: np.asarray(v, np.int64) for k, v in out.items()}

    def cadence(
        self, grid_hz: float | None = None, thresholds: CadenceThresholds | None = None
    ) -> CadenceReport:
        """Cadence computed from the bag itself (the report stored at recording is ``stored_cadence``)."""
        stored = self.stored_cadence.streams.items() if self.stored_cadence else ()
        drops = {k: v.queue_drops for k, v in stored}
        return cadence_report(
            self.stamps(), nominal_rates(self.meta), grid_hz or self.meta.nominal_rate_hz, drops, thresholds
        )

    def on_grid(self, rate_hz: float = 25.0, *, frames: bool = True) -> GridEpisode:
        """Resample every stream causally onto a ``rate_hz`` grid (latest sample <= tick)."""
        self.require()
        st = self.states()
        image_topic = self.image_topic
        first_image = next(t for _, t, _ in self.messages([image_topic]))
        optional = {t: self._arrays(t) for t in (m.TOPIC_ACTION, m.TOPIC_REWARD) if self._has(t)}
        streams = [st.joints_t, st.ee_t, st.gripper_t]
        ticks = grid_ticks(
            [first_image, *(int(s[0]) for s in streams)], [int(s[-1]) for s in streams], rate_hz
        )
        frame_t, images = self._select_frames(image_topic, ticks, decode=frames)
        ticks = ticks[: len(frame_t)]
        ji, ei, gi = (causal_index(s, ticks) for s in streams)
        grid_opt = {}
        for topic, (t, data) in optional.items():
            idx = causal_index(t, ticks)
            out = np.full((len(ticks), data.shape[1]), np.nan, np.float32)
            out[idx >= 0] = data[idx[idx >= 0]]
            grid_opt[topic] = out
        return GridEpisode(
            t_ns=ticks,
            frames=images,
            joint_pos=st.joint_pos[ji],
            joint_vel=st.joint_vel[ji],
            ee_pose=st.ee_pose[ei],
            gripper=st.gripper[gi],
            actions=grid_opt.get(m.TOPIC_ACTION),
            meta=self.meta,
            frame_t_ns=frame_t,
            rewards=grid_opt.get(m.TOPIC_REWARD),
            rate_hz=rate_hz,
        )

    def _select_frames(self, topic: str, ticks: np.ndarray, decode: bool):
        """Stream the images once, keeping only those some tick selects (memory ~ grid frames)."""
        chosen_t: list[int] = []
        images: list[np.ndarray] = []
        prev: tuple[int, bytes] | None = None
        prev_img: np.ndarray | None = None
        prev_used = False
        k = 0

        def take(sample: tuple[int, bytes]) -> None:
            nonlocal prev_img, prev_used
            if decode and not prev_used:
                prev_img = self._image(topic, sample[1], sample[0])
            prev_used = True
            chosen_t.append(sample[0])
            if decode:
                images.append(prev_img)

        for _, t, raw in self.messages([topic]):
            while k < len(ticks) and ticks[k] < t:
                take(prev)  # ticks start at/after the first image, so prev exists here
                k += 1
            prev, prev_used = (t, bytes(raw)), False
        # Ticks after the last image are outside the grid (it ends with the earliest stream).
        while k < len(ticks) and prev is not None and ticks[k] == prev[0]:
            take(prev)
            k += 1
        if not decode:
            return np.asarray(chosen_t, np.int64), None
        frames = np.stack(images) if images else np.zeros((0, 0, 0, 3), np.uint8)
        return np.asarray(chosen_t, np.int64), frames


def _deserialize(raw: bytes, msgtype: str, path: Path, topic: str):
    """A message from CDR bytes; any decoding failure is a CorruptBagError naming the topic."""
    try:
        return m.deserialize(raw, msgtype)
    except Exception as exc:
        raise CorruptBagError(
            f"{path.name}: a {topic} message cannot be decoded as {msgtype} ({type(exc).__name__}: "
            f"{one_line(exc)}); the bag is damaged. Copy it again from its source or delete it "
            f"(vipflow episodes delete {path})"
        ) from None


def _check_mirror(path: Path, meta: EpisodeMeta) -> None:
    """``episode.json`` (what listings show) must say what ``metadata.yaml`` says."""
    side = path / EPISODE_JSON
    if not side.exists():
        return
    fix = (f"metadata.yaml is authoritative: delete {side} (listings then read the bag), or relabel the "
           "episode with `vipflow episodes relabel` to rewrite both")
    try:
        info = json.loads(side.read_text())
        mirrored = EpisodeMeta.from_dict(info["meta"]).to_dict()
    except (ValueError, TypeError, KeyError, RecursionError, OSError) as exc:
        raise MetadataError(f"{side} is malformed ({one_line(exc)}); {fix}") from None
    expected = meta.to_dict()
    differ = sorted(k for k in expected if mirrored.get(k) != expected[k])
    if differ:
        raise MetadataError(f"{side} disagrees with {METADATA_YAML} on {', '.join(differ)}; {fix}")


def _find_mcap(path: Path) -> Path:
    files = sorted(path.glob("*.mcap"))
    if not files:
        raise EpisodeNotFoundError(f"{path} holds no .mcap file; it is not an episode directory")
    return files[0]


def read_episode(path: str | Path, *, allow_incomplete: bool = False) -> Episode:
    """Open an episode directory, checking it is complete and readable.

    Raises EpisodeNotFoundError, TruncatedBagError, CorruptBagError, or IncompleteEpisodeError
    (an episode recovered from an interrupted recording; pass ``allow_incomplete=True``).
    """
    path = Path(path)
    if not path.is_dir():
        raise EpisodeNotFoundError(f"{path} is not a directory; an episode is a rosbag2 directory")
    mcap = _find_mcap(path)
    if path.parent.name == PARTIAL_DIR or not (path / METADATA_YAML).exists():
        check_mcap_complete(mcap)  # names truncation precisely when that is the cause
        raise TruncatedBagError(
            f"{path} has no {METADATA_YAML}: its recording never finished. Run `vipflow episodes recover "
            f"{dataset_of(path)}`"
        )
    check_mcap_complete(mcap)
    try:
        info = yaml.safe_load((path / METADATA_YAML).read_text())["rosbag2_bagfile_information"]
        custom = dict(info.get("custom_data") or {})
    except (OSError, ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError) as exc:
        raise CorruptBagError(
            f"{path / METADATA_YAML} is damaged ({one_line(exc)}); copy the episode again"
        ) from None
    check_summary(mcap, required=str(custom.get(FORMAT_VERSION_KEY)) in SEALED_FORMATS)
    try:
        with Reader(path) as reader:
            topics = {c.topic: (c.msgtype, 0) for c in reader.connections}
            for c in reader.connections:
                topics[c.topic] = (c.msgtype, topics[c.topic][1] + c.msgcount)
    except Exception as exc:
        raise CorruptBagError(
            f"{path}: cannot open bag ({type(exc).__name__}: {one_line(exc)}); metadata.yaml or the MCAP "
            "index is damaged"
        ) from None
    meta_json = custom.get(META_KEY)
    try:
        meta = (
            EpisodeMeta.from_dict(json.loads(meta_json)) if meta_json else EpisodeMeta(source="foreign bag")
        )
        cad = custom.get("vipflow.cadence")
        stored = CadenceReport.from_dict(json.loads(cad)) if cad else None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise MetadataError(
            f"{path / METADATA_YAML}: the vipflow metadata in custom_data is malformed ({one_line(exc)}); "
            "copy the episode again from its source, or delete it"
        ) from None
    if meta_json is not None:
        _check_mirror(path, meta)
    if meta.incomplete and not allow_incomplete:
        raise IncompleteEpisodeError(
            f"{path.name} was recovered from an interrupted recording "
            f"({meta.extra.get('error', 'recorder killed')}); "
            "it is excluded from training. Inspect it with `vipflow episodes show`, then relabel it "
            "(`vipflow episodes relabel --complete`) or delete it"
        )
    return Episode(path, meta, topics, stored, native=meta_json is not None)
