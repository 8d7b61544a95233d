"""Check that every episode of a dataset can be loaded the way training loads it.

Each episode is listed (malformed metadata), opened and resampled onto the control grid with
frames decoded, exactly as training loads it, so every check of the reader applies: checksums,
truncation, stamps that go backwards, missing messages, missing topics, images that disagree with
their data or the camera; then it is checked for non-finite robot state and graded by the cadence
report computed from the bag.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vipflow.episodes.cadence import CadenceThresholds
from vipflow.episodes.dataset import list_episodes
from vipflow.episodes.errors import EpisodeError
from vipflow.episodes.reader import read_episode


@dataclass
class EpisodeCheck:
    name: str
    path: Path
    status: str  # "ok" | "warn" | "fail"
    error: str = ""  # exception class name for failures (TruncatedBagError, MissingTopicError, ...)
    message: str = ""
    ticks: int = 0

    def line(self) -> str:
        what = f"{self.error}: {self.message}" if self.error else self.message
        return f"{self.status.upper():4s} {self.name}  {self.ticks} ticks  {what}".rstrip()


def validate_episode(
    path: str | Path, rate_hz: float | None = None, thresholds: CadenceThresholds | None = None
) -> EpisodeCheck:
    path = Path(path)
    try:
        ep = read_episode(path)
        grid = ep.on_grid(rate_hz or ep.meta.nominal_rate_hz)
        report = ep.cadence(grid.rate_hz, thresholds)
    except (EpisodeError, OSError) as exc:
        return EpisodeCheck(path.name, path, "fail", type(exc).__name__, str(exc))
    if len(grid) < 2:
        return EpisodeCheck(path.name, path, "fail", "EmptyEpisode", "fewer than 2 control ticks", len(grid))
    bad = [k for k in ("joint_pos", "ee_pose", "gripper") if not np.all(np.isfinite(getattr(grid, k)))]
    if bad:
        return EpisodeCheck(
            path.name, path, "fail", "NonFiniteState", f"NaN/inf in {', '.join(bad)}", len(grid)
        )
    status = {"ok": "ok", "warn": "warn", "fail": "fail"}[report.status]
    message = "; ".join(report.problems()) or report.summary()
    return EpisodeCheck(
        path.name, path, status, "CadenceOutOfTolerance" if status == "fail" else "", message, len(grid)
    )


def validate_dataset(
    dataset: str | Path, rate_hz: float | None = None, thresholds: CadenceThresholds | None = None
) -> list[EpisodeCheck]:
    checks = []
    for s in list_episodes(dataset):
        if s.status == "partial":
            checks.append(EpisodeCheck(s.name, s.path, "fail", "TruncatedBagError", s.problem))
        elif s.status == "unreadable":  # e.g. a malformed episode.json: what the loaders skip
            checks.append(EpisodeCheck(s.name, s.path, "fail", s.error or "EpisodeError", s.problem))
        elif s.status == "incomplete":
            checks.append(
                EpisodeCheck(
                    s.name,
                    s.path,
                    "warn",
                    "IncompleteEpisodeError",
                    "recovered from an interrupted recording; excluded from training",
                )
            )
        else:
            checks.append(validate_episode(s.path, rate_hz, thresholds))
    return checks
