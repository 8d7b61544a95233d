"""Episode metadata: what a person needs to know about a recording without opening it.

Stored twice on purpose: inside the bag's ``metadata.yaml`` (``custom_data``), so the episode
is self-describing for ``ros2 bag info`` and for anyone who copies just the bag, and in an
``episode.json`` beside it, so tools without a YAML parser (and people) can read it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from vipflow import __version__
from vipflow.actions import ACTION_SPACES
from vipflow.episodes.errors import MetadataError

# 1: original; 2: MCAP CRCs sealed at close (vipflow.episodes.integrity), required when reading.
FORMAT_VERSION = "2"
SEALED_FORMATS = ("2",)
LABELS = ("success", "failure", "unlabeled")
META_KEY = "vipflow.episode"  # custom_data key holding the JSON metadata
FORMAT_VERSION_KEY = "vipflow.format"


def check_label(label: str) -> str:
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    return label


@dataclass
class EpisodeMeta:
    """Everything about an episode except its streams.

    ``camera`` and ``robot`` describe the hardware configuration (resolution, image format,
    frame rate, joint names, state rate ...); a resumed session must match them. ``incomplete``
    marks an episode recovered from an interrupted recording: loaders refuse it unless asked.
    """

    task: str = ""
    goal_text: str = ""
    label: str = "unlabeled"
    operator: str = ""
    tags: list[str] = field(default_factory=list)
    start_time_ns: int = 0  # wall clock (UNIX epoch) at the start of the episode
    nominal_rate_hz: float = 25.0  # the control grid the episode is meant for
    source: str = ""  # "realsense", "sim", "replay", "ros", "rollout", ...
    software_version: str = __version__
    action_space: str | None = None
    camera: dict[str, Any] = field(default_factory=dict)
    robot: dict[str, Any] = field(default_factory=dict)
    index: int | None = None  # position within a recording session
    session: str = ""
    notes: str = ""
    incomplete: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_label(self.label)
        if not self.start_time_ns:
            self.start_time_ns = time.time_ns()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EpisodeMeta:
        """Build from a stored dict; unknown keys (from newer versions) go to ``extra``.

        Every field is type-checked: MetadataError (naming each bad field) instead of a crash later.
        """
        if not isinstance(data, dict):
            raise MetadataError(f"episode metadata must be a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in data.items() if k in names}
        unknown = {k: v for k, v in data.items() if k not in names}
        problems = [f"{k}: {p}" for k, v in known.items() if (p := _field_problem(k, v))]
        if problems:
            raise MetadataError("malformed episode metadata (" + "; ".join(problems) + ")")
        meta = cls(**known)
        meta.extra = {**unknown, **meta.extra}
        return meta

    def replace(self, **changes: Any) -> EpisodeMeta:
        return dataclasses.replace(self, **changes)


_STRINGS = ("task", "goal_text", "operator", "source", "software_version", "session", "notes")
_OBJECTS = ("camera", "robot", "extra")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _field_problem(name: str, v: Any) -> str:
    """Why ``v`` cannot be the value of field ``name`` ('' if it can)."""
    if name in _STRINGS:
        return "" if isinstance(v, str) else f"expected text, got {type(v).__name__}"
    if name in _OBJECTS:
        return "" if isinstance(v, dict) else f"expected an object, got {type(v).__name__}"
    if name == "label":
        return "" if v in LABELS else f"expected one of {LABELS}, got {v!r}"
    if name == "tags":
        ok = isinstance(v, list) and all(isinstance(t, str) for t in v)
        return "" if ok else "expected a list of strings"
    if name == "start_time_ns":
        return "" if _is_int(v) and v >= 0 else f"expected a non-negative integer, got {v!r}"
    if name == "nominal_rate_hz":
        ok = (_is_int(v) or isinstance(v, float)) and math.isfinite(v) and 0 < v <= 10_000
        return "" if ok else f"expected a rate in (0, 10000] Hz, got {v!r}"
    if name == "index":
        return "" if v is None or (_is_int(v) and v >= 0) else f"expected a non-negative integer, got {v!r}"
    if name == "action_space":
        known = sorted(ACTION_SPACES)
        return "" if v is None or v in ACTION_SPACES else f"expected one of {known}, got {v!r}"
    if name == "incomplete":
        return "" if isinstance(v, bool) else f"expected true/false, got {v!r}"
    return ""


# Configuration keys that must agree between episodes recorded into one dataset session.
COMPAT_KEYS = {
    "camera": ("width", "height", "image_format"),
    "robot": ("joint_names",),
}


def config_differences(recorded: EpisodeMeta, current: EpisodeMeta) -> list[str]:
    """Human-readable differences that make ``current`` incompatible with ``recorded``."""
    diffs = []
    if recorded.task != current.task:
        diffs.append(f"task: recorded {recorded.task!r}, now {current.task!r}")
    if float(recorded.nominal_rate_hz) != float(current.nominal_rate_hz):
        diffs.append(
            f"nominal rate: recorded {recorded.nominal_rate_hz} Hz, now {current.nominal_rate_hz} Hz"
        )
    for section, keys in COMPAT_KEYS.items():
        old, new = getattr(recorded, section), getattr(current, section)
        for key in keys:
            if key in old and key in new and _norm(old[key]) != _norm(new[key]):
                diffs.append(f"{section}.{key}: recorded {old[key]!r}, now {new[key]!r}")
    return diffs


def _norm(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
