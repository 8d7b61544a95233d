"""Salvage recordings that never finished (recorder killed, power cut, disk full).

An MCAP file is a sequence of self-delimiting records; the summary at the end is only an index.
So a file cut off anywhere still yields every complete chunk in order. Recovery is
copy-then-commit: the messages are replayed through ``EpisodeWriter`` into ``.recovering/``
while the raw recording stays untouched in ``.partial/``; only when the new episode is complete
is it renamed into the dataset and the raw directory moved to ``.trash`` (two renames, no space
needed). Any failure (a full disk, a crash) leaves the raw bytes where ``recover`` finds them
again. The episode's metadata says ``incomplete: true``; loaders refuse it until a person looks
at it and relabels.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from mcap.exceptions import McapError
from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader

from vipflow.durable import free_bytes, fsync_dir
from vipflow.episodes import messages as m
from vipflow.episodes.dataset import write_manifest
from vipflow.episodes.edit import move_to_trash, trash_slot
from vipflow.episodes.errors import DiskFullError, EpisodeError, MetadataError
from vipflow.episodes.layout import EPISODE_JSON, METADATA_YAML, PARTIAL_DIR
from vipflow.episodes.meta import EpisodeMeta
from vipflow.episodes.writer import EpisodeWriter
from vipflow.errors import one_line

RECOVERING_DIR = ".recovering"  # recovered episodes are built here, then renamed into the dataset
STATE_TOPICS = (m.TOPIC_JOINTS, m.TOPIC_EE_POSE, m.TOPIC_GRIPPER)


@dataclass
class RecoveryResult:
    name: str
    status: str  # "finished" (only the rename was missing), "recovered", "empty"
    path: Path | None  # the episode now in the dataset, if any
    messages: int
    kept_at: Path | None  # where the original interrupted files are kept

    def line(self) -> str:
        where = f" -> {self.path}" if self.path else ""
        kept = f" (original kept in {self.kept_at})" if self.kept_at else ""
        return f"{self.name}: {self.status}, {self.messages} messages{where}{kept}"


def scan_mcap(path: Path) -> tuple[list[tuple[str, int, bytes]], str]:
    """All complete messages of a possibly truncated MCAP file, as (topic, log time, raw), and
    why scanning stopped ("complete", or the error at the cut)."""
    out: list[tuple[str, int, bytes]] = []
    channels: dict[int, str] = {}
    with open(path, "rb") as f:
        try:
            for rec in StreamReader(f, record_size_limit=2**31).records:
                if isinstance(rec, Channel):
                    channels[rec.id] = rec.topic
                elif isinstance(rec, Message) and rec.channel_id in channels:
                    out.append((channels[rec.channel_id], rec.log_time, bytes(rec.data)))
                elif isinstance(rec, Schema):
                    continue
            return out, "complete"
        except (McapError, struct.error, EOFError, ValueError) as exc:
            return out, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def paired_states(msgs: list[tuple[str, int, bytes]]) -> list[tuple[str, int, bytes]]:
    """Drop robot-state messages whose siblings (written with the same stamp) were cut off."""
    stamps = [{t for topic, t, _ in msgs if topic == s} for s in STATE_TOPICS]
    common = set.intersection(*stamps) if all(stamps) else set()
    return [x for x in msgs if x[0] not in STATE_TOPICS or x[1] in common]


def _read_info(partial: Path) -> dict:
    path = partial / EPISODE_JSON
    if not path.exists():
        return {}
    try:
        info = json.loads(path.read_text())
    except ValueError as exc:
        raise MetadataError(
            f"{path} is not JSON ({one_line(exc)}); move it away to recover the bag alone"
        ) from None
    if not isinstance(info, dict):
        raise MetadataError(f"{path} is not a JSON object; move it away to recover the bag alone")
    return info


def recover_partial(partial: Path) -> RecoveryResult:
    """Turn one ``.partial/<name>`` directory into an episode (or report it empty).

    Never strands data: until the recovered episode is complete, the raw directory is not moved.
    """
    partial = Path(partial)
    dataset = partial.parent.parent
    name = partial.name
    final = dataset / name
    info = _read_info(partial)
    if (partial / METADATA_YAML).exists() and not info.get("recording"):
        # Crashed between closing the bag and the rename: the episode is complete.
        os.replace(partial, final)
        fsync_dir(dataset)
        return RecoveryResult(name, "finished", final, -1, None)
    if final.exists():  # a previous recover crashed between its two renames: finish it
        kept = move_to_trash(partial, dataset, f"{name}.interrupted")
        return RecoveryResult(name, "recovered", final, -1, kept)
    mcaps = sorted(partial.glob("*.mcap"))
    msgs, why = scan_mcap(mcaps[0]) if mcaps else ([], "no MCAP file")
    meta = EpisodeMeta.from_dict(info["meta"]) if "meta" in info else EpisodeMeta(source="recovered")
    msgs = [x for x in msgs if x[0] in m.TOPIC_STREAM]
    if "meta" in info:  # vipflow writes the three state topics together; a cut may split a triple
        msgs = paired_states(msgs)
    if not msgs:
        kept = move_to_trash(partial, dataset, f"{name}.interrupted")
        return RecoveryResult(name, "empty", None, 0, kept)
    kept = trash_slot(dataset, f"{name}.interrupted")
    meta.incomplete = True
    meta.extra["error"] = f"recording interrupted; recovered {len(msgs)} messages ({why})"
    meta.extra["recovered_from"] = str(kept)
    fmt = "raw" if any(t == m.TOPIC_IMAGE for t, _, _ in msgs) else meta.camera.get("image_format", "jpeg")
    offset = int(meta.extra.get("clock_offset_ns", 0))
    work = dataset / RECOVERING_DIR
    built = _build(work / name, msgs, meta, fmt, offset, mcaps[0])
    os.replace(built, final)  # commit 1: the episode appears complete in the dataset
    fsync_dir(dataset)
    move_to_trash(partial, dataset, f"{name}.interrupted", kept)  # commit 2: the raw bytes to the trash
    with contextlib.suppress(OSError):
        work.rmdir()
    return RecoveryResult(name, "recovered", final, len(msgs), kept)


def _build(path: Path, msgs, meta: EpisodeMeta, fmt: str, offset: int, raw_mcap: Path) -> Path:
    """Write the recovered episode at ``path`` (outside the dataset); on failure remove every
    trace of it and say that the raw recording is untouched."""
    shutil.rmtree(path.parent, ignore_errors=True)  # leftovers of an earlier failed attempt
    need = raw_mcap.stat().st_size * 1.1 + 2**18  # the copy is about as large as the raw file
    free = free_bytes(path.parent.parent)
    if free < need:
        raise DiskFullError(
            errno.ENOSPC,
            f"recovering {path.name} needs about {need / 1e6:.1f} MB and only {free / 1e6:.1f} MB are "
            f"free on the disk of {path.parent.parent}; the raw recording is untouched in {raw_mcap.parent}. "
            "Free space and run `vipflow episodes recover` again",
        )
    try:
        with EpisodeWriter(path, meta, image_format=fmt, time_offset_ns=offset, flush_interval_s=60.0) as w:
            for topic, t, raw in sorted(msgs, key=lambda x: x[1]):
                w.write_raw(topic, t, raw)
            w.close()
    except BaseException as exc:
        shutil.rmtree(path.parent, ignore_errors=True)
        if isinstance(exc, OSError):
            raise type(exc)(
                exc.errno or 0,
                f"{exc}; nothing was lost: the raw recording is untouched in {raw_mcap.parent} and "
                "`vipflow episodes recover` will try again",
            ) from exc
        raise
    return path


def recover_dataset(dataset_dir: str | Path) -> list[RecoveryResult]:
    """Recover every interrupted recording of a dataset and refresh its manifest."""
    root = Path(dataset_dir)
    if not root.is_dir():
        raise EpisodeError(f"dataset directory {root} does not exist")
    results = [recover_partial(p) for p in sorted((root / PARTIAL_DIR).glob("*")) if p.is_dir()]
    if results:
        write_manifest(root)
    return results
