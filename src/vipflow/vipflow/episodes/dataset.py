"""A dataset is a directory of episodes; listing it never trusts anything but the episodes.

``list_episodes`` reports finished episodes, episodes recovered from crashes (flagged
``incomplete``), and recordings still lying in ``.partial/`` (never usable until recovered), so
a crash is visible in every listing instead of silently shrinking the dataset.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from vipflow.durable import atomic_write_text
from vipflow.episodes.cadence import CadenceReport
from vipflow.episodes.errors import EpisodeError, MetadataError
from vipflow.episodes.layout import EPISODE_JSON, MANIFEST, METADATA_YAML, PARTIAL_DIR
from vipflow.episodes.meta import EpisodeMeta
from vipflow.episodes.reader import read_episode
from vipflow.errors import one_line

log = logging.getLogger(__name__)


@dataclass
class EpisodeSummary:
    name: str
    path: Path
    status: str  # "ok" | "incomplete" (recovered) | "partial" (needs recover) | "unreadable"
    meta: EpisodeMeta | None = None
    counts: dict[str, int] = field(default_factory=dict)  # per stream
    duration_s: float = 0.0
    cadence_status: str = ""
    problem: str = ""
    cadence: CadenceReport | None = None
    error: str = ""  # error class of an unreadable episode (MetadataError, CorruptBagError, ...)

    @property
    def usable(self) -> bool:
        """Safe to train or evaluate on: finished, readable, not recovered from a crash."""
        return self.status == "ok"

    @property
    def label(self) -> str:
        return self.meta.label if self.meta else "unlabeled"

    def to_dict(self) -> dict:
        meta = self.meta
        return {
            "name": self.name,
            "status": self.status,
            "label": self.label,
            "task": meta.task if meta else "",
            "tags": meta.tags if meta else [],
            "operator": meta.operator if meta else "",
            "index": meta.index if meta else None,
            "start_time_ns": meta.start_time_ns if meta else 0,
            "duration_s": round(self.duration_s, 3),
            "frames": self.counts.get("camera", 0),
            "cadence": self.cadence_status,
            "problem": self.problem,
        }


def _summary_from_info(path: Path, info: object) -> EpisodeSummary:
    """Summary from ``episode.json``; MetadataError for any malformed content."""
    try:
        if not isinstance(info, dict) or not isinstance(info.get("meta"), dict):
            raise MetadataError(f"expected an object with a \"meta\" object, got {_shape(info)}")
        meta = EpisodeMeta.from_dict(info["meta"])
        cad = info.get("cadence") or {}
        counts = info.get("counts", {})
        duration = info.get("duration_s", 0.0)
        if not isinstance(counts, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts.values()
        ):
            raise MetadataError("\"counts\" must map streams to message counts")
        if isinstance(duration, bool) or not isinstance(duration, int | float) or not 0 <= duration < 1e7:
            raise MetadataError(f"\"duration_s\" must be a number of seconds, got {duration!r}")
        cadence = CadenceReport.from_dict(cad) if cad else None
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise MetadataError(
            f"{path / EPISODE_JSON} is malformed ({one_line(exc)}); it only mirrors metadata.yaml: delete "
            "it and the listing reads the bag itself"
        ) from None
    return EpisodeSummary(
        name=path.name,
        path=path,
        status="incomplete" if meta.incomplete else "ok",
        meta=meta,
        counts=dict(counts),
        duration_s=float(duration),
        cadence_status=cadence.status if cadence else "",
        cadence=cadence,
    )


def _shape(value: object) -> str:
    return f"{type(value).__name__} {json.dumps(value)[:40]}" if value is not None else "null"


def summarize(path: Path) -> EpisodeSummary:
    """Summary of one episode directory; errors are reported in the summary, not raised."""
    if path.parent.name == PARTIAL_DIR:
        return EpisodeSummary(
            path.name, path, "partial", problem="interrupted recording; run `vipflow episodes recover`"
        )
    info_path = path / EPISODE_JSON
    try:
        if info_path.exists():
            try:
                info = json.loads(info_path.read_text())
            except (ValueError, RecursionError) as exc:  # also UnicodeDecodeError
                raise MetadataError(
                    f"{info_path} is not valid JSON ({one_line(exc)}); it only mirrors metadata.yaml: "
                    "delete it and the listing reads the bag itself"
                ) from None
            return _summary_from_info(path, info)
        ep = read_episode(path, allow_incomplete=True)  # a bag without our side file
        counts = {t: n for t, (_, n) in ep.topics.items()}
        return EpisodeSummary(path.name, path, "incomplete" if ep.meta.incomplete else "ok", ep.meta, counts)
    except (EpisodeError, OSError) as exc:
        return EpisodeSummary(path.name, path, "unreadable", problem=str(exc), error=type(exc).__name__)


def is_episode_dir(path: Path) -> bool:
    return path.is_dir() and (any(path.glob("*.mcap")) or (path / METADATA_YAML).exists())


def list_episodes(dataset_dir: str | Path) -> list[EpisodeSummary]:
    """All episodes in a dataset, sorted by name, including partial and unreadable ones
    (check ``.usable`` before training on one)."""
    root = Path(dataset_dir)
    if not root.is_dir():
        raise EpisodeError(f"dataset directory {root} does not exist")
    dirs = [p for p in sorted(root.iterdir()) if not p.name.startswith(".") and is_episode_dir(p)]
    partial = sorted(p for p in (root / PARTIAL_DIR).glob("*") if p.is_dir())
    return [summarize(p) for p in [*dirs, *partial]]


def usable_episodes(dataset_dir: str | Path, labels: tuple[str, ...] | None = None) -> list[EpisodeSummary]:
    """Episodes safe to train on, optionally filtered by label; skipped ones are logged."""
    out = []
    for s in list_episodes(dataset_dir):
        if not s.usable:
            log.warning("skipping %s: %s %s", s.name, s.status, s.problem)
        elif labels is None or s.label in labels:
            out.append(s)
    return out


def write_manifest(dataset_dir: str | Path) -> Path:
    """Rewrite ``manifest.json`` from the episodes themselves (it is derived, never edited)."""
    root = Path(dataset_dir)
    episodes = list_episodes(root)
    labels: dict[str, int] = {}
    for s in episodes:
        if s.status in ("ok", "incomplete"):
            labels[s.label] = labels.get(s.label, 0) + 1
    manifest = {
        "format": "vipflow-dataset/1",
        "episodes": [s.to_dict() for s in episodes],
        "counts": {"total": len(episodes), "usable": sum(s.usable for s in episodes), "labels": labels},
    }
    path = root / MANIFEST
    atomic_write_text(path, json.dumps(manifest, indent=2))
    return path
