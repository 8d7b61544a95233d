"""Salvage recordings that never finished (recorder killed, power cut, disk full).

An MCAP file is a sequence of self-delimiting records; the summary at the end is only an index.
So a file cut off anywhere still yields every complete chunk in order. We move the interrupted
directory to ``.trash`` first (so its bytes are never lost, even if recovery itself crashes),
then replay its messages through ``EpisodeWriter`` into a normal episode whose metadata says
``incomplete: true``. Loaders refuse such episodes until a person looks at them and relabels.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from mcap.exceptions import McapError
from mcap.records import Channel, Message, Schema
from mcap.stream_reader import StreamReader

from vipflow.durable import fsync_dir
from vipflow.episodes import messages as m
from vipflow.episodes.dataset import write_manifest
from vipflow.episodes.edit import move_to_trash
from vipflow.episodes.errors import EpisodeError
from vipflow.episodes.layout import EPISODE_JSON, METADATA_YAML, PARTIAL_DIR
from vipflow.episodes.meta import EpisodeMeta
from vipflow.episodes.writer import EpisodeWriter


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


def recover_partial(partial: Path) -> RecoveryResult:
    """Turn one ``.partial/<name>`` directory into an episode (or report it empty)."""
    partial = Path(partial)
    dataset = partial.parent.parent
    name = partial.name
    final = dataset / name
    info_path = partial / EPISODE_JSON
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    if (partial / METADATA_YAML).exists() and not info.get("recording"):
        # Crashed between closing the bag and the rename: the episode is complete.
        os.replace(partial, final)
        fsync_dir(dataset)
        return RecoveryResult(name, "finished", final, -1, None)
    kept = move_to_trash(partial, dataset, f"{name}.interrupted")
    mcaps = sorted(kept.glob("*.mcap"))
    msgs, why = scan_mcap(mcaps[0]) if mcaps else ([], "no MCAP file")
    msgs = [x for x in msgs if x[0] in m.TOPIC_STREAM]
    if not msgs:
        return RecoveryResult(name, "empty", None, 0, kept)
    meta = EpisodeMeta.from_dict(info["meta"]) if "meta" in info else EpisodeMeta(source="recovered")
    meta.incomplete = True
    meta.extra["error"] = f"recording interrupted; recovered {len(msgs)} messages ({why})"
    meta.extra["recovered_from"] = str(kept)
    fmt = "raw" if any(t == m.TOPIC_IMAGE for t, _, _ in msgs) else meta.camera.get("image_format", "jpeg")
    offset = int(meta.extra.get("clock_offset_ns", 0))
    with EpisodeWriter(final, meta, image_format=fmt, time_offset_ns=offset, flush_interval_s=60.0) as w:
        for topic, t, raw in sorted(msgs, key=lambda x: x[1]):
            w.write_raw(topic, t, raw)
        w.close()
    return RecoveryResult(name, "recovered", final, len(msgs), kept)


def recover_dataset(dataset_dir: str | Path) -> list[RecoveryResult]:
    """Recover every interrupted recording of a dataset and refresh its manifest."""
    root = Path(dataset_dir)
    if not root.is_dir():
        raise EpisodeError(f"dataset directory {root} does not exist")
    results = [recover_partial(p) for p in sorted((root / PARTIAL_DIR).glob("*")) if p.is_dir()]
    if results:
        write_manifest(root)
    return results
