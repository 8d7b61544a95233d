"""Edit a dataset without ever destroying data: relabel in place, delete into ``.trash``,
restore from it. Only metadata files are rewritten (atomically); MCAP files are never touched,
so the MCAP's embedded copy of the metadata keeps the values from recording time, while
``metadata.yaml`` and ``episode.json`` carry the current ones.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import yaml

from vipflow.durable import atomic_write_text, fsync_dir
from vipflow.episodes.dataset import write_manifest
from vipflow.episodes.errors import EpisodeError, EpisodeNotFoundError, MetadataError
from vipflow.episodes.layout import EPISODE_JSON, METADATA_YAML, TRASH_DIR
from vipflow.episodes.meta import FORMAT_VERSION, META_KEY, EpisodeMeta, check_label
from vipflow.errors import one_line


def trash_slot(dataset: Path, stem: str) -> Path:
    """A free ``dataset/.trash/<stem>-<time>`` path (the trash folder is created)."""
    trash = dataset / TRASH_DIR
    trash.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest, n = trash / f"{stem}-{stamp}", 1
    while dest.exists():
        dest, n = trash / f"{stem}-{stamp}-{n}", n + 1
    return dest


def move_to_trash(path: Path, dataset: Path, stem: str, dest: Path | None = None) -> Path:
    """Move ``path`` into ``dataset/.trash/<stem>-<time>`` (or ``dest``; atomic rename, same disk)."""
    trash = dataset / TRASH_DIR
    dest = dest or trash_slot(dataset, stem)
    os.replace(path, dest)
    fsync_dir(trash)
    fsync_dir(path.parent)
    return dest


def _load_yaml(path: Path) -> tuple[dict, dict, dict, EpisodeMeta]:
    """(document, bag info, custom_data, metadata) of a finished episode's metadata.yaml."""
    yaml_path = path / METADATA_YAML
    if not yaml_path.exists():
        raise EpisodeNotFoundError(f"{path} is not a finished episode (no {METADATA_YAML})")
    try:
        doc = yaml.safe_load(yaml_path.read_text())
        info = doc["rosbag2_bagfile_information"]
        custom = info.get("custom_data") or {}
        meta = EpisodeMeta.from_dict(json.loads(custom[META_KEY])) if META_KEY in custom else EpisodeMeta()
    except (yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise MetadataError(f"{yaml_path} is damaged ({one_line(exc)}); copy the episode again") from None
    return doc, info, custom, meta


def update_meta(path: Path, **changes) -> EpisodeMeta:
    """Change metadata fields of a finished episode in both metadata.yaml and episode.json (a
    malformed episode.json is rebuilt from metadata.yaml, which is authoritative)."""
    json_path = path / EPISODE_JSON
    doc, info, custom, meta = _load_yaml(path)
    for key, value in changes.items():
        if key == "extra":
            meta.extra.update(value)
        else:
            setattr(meta, key, value)
    check_label(meta.label)
    custom[META_KEY] = meta.to_json()
    info["custom_data"] = custom
    atomic_write_text(path / METADATA_YAML, yaml.safe_dump(doc, sort_keys=False))
    try:
        side = json.loads(json_path.read_text()) if json_path.exists() else {}
    except (ValueError, RecursionError):
        side = {}
    if not isinstance(side, dict):
        side = {}
    side.setdefault("format", FORMAT_VERSION)
    side["meta"] = meta.to_dict()
    atomic_write_text(json_path, json.dumps(side, indent=2, sort_keys=True))
    return meta


def relabel(
    path: str | Path,
    label: str | None = None,
    *,
    tags_add: tuple[str, ...] = (),
    tags_remove: tuple[str, ...] = (),
    notes: str | None = None,
    mark_complete: bool = False,
) -> EpisodeMeta:
    """Change label/tags/notes; ``mark_complete`` accepts a recovered episode for training after
    a person has reviewed it (recorded in ``extra.reviewed_incomplete``)."""
    path = Path(path)
    meta = _load_yaml(path)[3]
    changes: dict = {}
    if label is not None:
        changes["label"] = check_label(label)
    tags = [t for t in meta.tags if t not in tags_remove] + [t for t in tags_add if t not in meta.tags]
    if tags != meta.tags:
        changes["tags"] = tags
    if notes is not None:
        changes["notes"] = notes
    if mark_complete and meta.incomplete:
        changes["incomplete"] = False
        changes["extra"] = {"reviewed_incomplete": time.strftime("%Y-%m-%dT%H:%M:%S")}
    meta = update_meta(path, **changes)
    write_manifest(path.parent)
    return meta


def delete_episode(path: str | Path) -> Path:
    """Move an episode to the dataset's trash; returns where it went (``restore`` undoes it)."""
    path = Path(path)
    if not (path / METADATA_YAML).exists() and not any(path.glob("*.mcap")):
        raise EpisodeNotFoundError(f"{path} is not an episode directory")
    dest = move_to_trash(path, path.parent, f"{path.name}.deleted")
    write_manifest(path.parent)
    return dest


def trash_entries(dataset: str | Path) -> list[Path]:
    trash = Path(dataset) / TRASH_DIR
    return sorted(p for p in trash.iterdir() if p.is_dir()) if trash.is_dir() else []


def restore_episode(dataset: str | Path, entry: str, as_name: str | None = None) -> Path:
    """Bring a deleted or discarded episode back from the trash (``entry``: its trash name, or
    the episode name when only one trash entry matches)."""
    dataset = Path(dataset)
    matches = [p for p in trash_entries(dataset) if p.name == entry or p.name.split(".")[0] == entry]
    if not matches:
        raise EpisodeNotFoundError(
            f"nothing named {entry!r} in {dataset / TRASH_DIR} (see `vipflow episodes trash`)"
        )
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches)
        raise EpisodeError(f"{entry!r} matches several trash entries ({names}); give the full name")
    src = matches[0]
    if ".interrupted-" in src.name:
        raise EpisodeError(
            f"{src.name} holds the raw bytes of an interrupted recording that was already recovered as "
            f"{src.name.split('.')[0]}; it stays in the trash for reference"
        )
    dest = dataset / (as_name or src.name.split(".")[0])
    if dest.exists():
        raise EpisodeError(f"{dest} exists; restore under another name with --as NAME")
    os.replace(src, dest)
    fsync_dir(dataset)
    write_manifest(dataset)
    return dest
