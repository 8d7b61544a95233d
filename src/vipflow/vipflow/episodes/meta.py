"""Episode metadata: what a person needs to know about a recording without opening it.

Stored twice on purpose: inside the bag's ``metadata.yaml`` (``custom_data``), so the episode
is self-describing for ``ros2 bag info`` and for anyone who copies just the bag, and in an
``episode.json`` beside it, so tools without a YAML parser (and people) can read it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any

from vipflow import __version__

FORMAT_VERSION = "1"
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
        """Build from a stored dict; unknown keys (from newer versions) go to ``extra``."""
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in data.items() if k in names}
        unknown = {k: v for k, v in data.items() if k not in names}
        meta = cls(**known)
        meta.extra = {**unknown, **meta.extra}
        return meta

    def replace(self, **changes: Any) -> EpisodeMeta:
        return dataclasses.replace(self, **changes)


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
