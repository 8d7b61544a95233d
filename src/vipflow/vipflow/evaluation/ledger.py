"""Results ledger: one JSON file per evaluated policy (and seed) that a paper table is built from.

It holds who was evaluated (policy, encoder, task, seed, backend), every rollout (success,
who judged it, steps, why it stopped, its episode, its return), the success rate with a Wilson
95 % interval, the loop's timing report and what the safety layer did. It is rewritten
atomically after every rollout, so an interrupted session keeps everything done so far.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vipflow import __version__
from vipflow.durable import atomic_write_text

LEDGER_FORMAT = "vipflow.ledger/1"


class LedgerError(ValueError):
    """A ledger file is missing or not a vipflow ledger; the message names the file."""


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95 % by default); (0, 1) when n == 0.

    Unlike the normal approximation it stays inside [0, 1] and is honest at 0/10 or 10/10,
    which is where small real-robot evaluations live.
    """
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within 0..{n}, got {successes}")
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


@dataclass
class RolloutOutcome:
    """One rollout. ``success`` is None for an aborted rollout (it is not counted)."""

    index: int
    success: bool | None
    judged_by: str  # "sim", "operator", or "aborted"
    steps: int
    stop_reason: str
    episode: str | None  # path relative to the ledger's directory
    safe_stopped: bool = True
    return_: float | None = None  # sum of per-tick rewards (v_T - v_0)
    final_value: float | None = None
    holds: dict[str, int] = field(default_factory=dict)
    # Where the rollout started, for pairing rollouts of different policies: the simulator's
    # {"reset_seed": s}; in a paired session also {"session": id, "photo": path} (``paired``).
    start: dict[str, Any] | None = None
    trial: int | None = None  # trial of a paired session (its policies share the start)
    order: int | None = None  # position of this policy's run within its trial (0 = first)

    def start_key(self, task: str) -> tuple | None:
        """What identifies the start state, so rollouts of two policies from the same start pair up:
        the task's reset seed in the simulator, (session, trial) on a robot; None if unknown."""
        start = self.start or {}
        if "reset_seed" in start:
            return ("reset", task, int(start["reset_seed"]))
        if "session" in start and self.trial is not None:
            return ("session", str(start["session"]), int(self.trial))
        return None


@dataclass
class Ledger:
    policy: dict[str, Any]  # name (table column), path, action_space, encoder
    task: str
    seed: int
    backend: dict[str, Any]
    config: dict[str, Any]  # rollouts, horizon, rate_hz, limits ...
    rollouts: list[RolloutOutcome] = field(default_factory=list)
    timing: dict[str, Any] = field(default_factory=dict)
    safety: dict[str, Any] = field(default_factory=dict)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    software_version: str = __version__

    # -- statistics ---------------------------------------------------------------------------------
    @property
    def judged(self) -> list[RolloutOutcome]:
        return [r for r in self.rollouts if r.success is not None]

    @property
    def successes(self) -> int:
        return sum(1 for r in self.judged if r.success)

    @property
    def n(self) -> int:
        return len(self.judged)

    def outcomes_by_start(self) -> dict[tuple, bool]:
        """Judged outcomes keyed by :meth:`RolloutOutcome.start_key` (rollouts without one are left out)."""
        out = {}
        for r in self.judged:
            key = r.start_key(self.task)
            if key is not None:
                out[key] = bool(r.success)
        return out

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.n if self.n else None

    def summary(self) -> dict[str, Any]:
        lo, hi = wilson_interval(self.successes, self.n)
        return {
            "successes": self.successes,
            "n": self.n,
            "aborted": len(self.rollouts) - self.n,
            "success_rate": self.success_rate,
            "wilson95": [round(lo, 4), round(hi, 4)],
        }

    # -- files ----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": LEDGER_FORMAT, "summary": self.summary(), **asdict(self)}

    def save(self, path: str | Path) -> Path:
        """Atomic write (temp file + rename): a crash never leaves half a ledger."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Ledger:
        path = Path(path)
        if path.is_dir():
            path = path / "ledger.json"
        if not path.is_file():
            raise LedgerError(f"no ledger at {path}; pass a ledger.json written by `vipflow evaluate run`")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise LedgerError(f"{path} is not valid JSON ({exc}); was the file truncated?") from exc
        if not isinstance(data, dict) or data.get("format") != LEDGER_FORMAT:
            raise LedgerError(f"{path} is not a vipflow ledger (format {LEDGER_FORMAT!r} expected)")
        fields_ = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        fields_["rollouts"] = [RolloutOutcome(**r) for r in data.get("rollouts", [])]
        return cls(**fields_)

    def rollout_table_markdown(self) -> str:
        """Per-rollout table for the session's README / terminal."""
        lines = [
            "| # | result | judged by | steps | stop reason | return |",
            "|---|---|---|---|---|---|",
        ]
        for r in self.rollouts:
            result = "aborted" if r.success is None else ("success" if r.success else "failure")
            ret = "" if r.return_ is None else f"{r.return_:.3f}"
            lines.append(f"| {r.index} | {result} | {r.judged_by} | {r.steps} | {r.stop_reason} | {ret} |")
        return "\n".join(lines)
