"""Per-episode cadence report: did each stream arrive at the rate the grid needs?

Users of LeRobot and others lose days to loops that silently ran slower than their nominal
fps. The report says, per stream, the achieved rate, gaps, estimated dropped samples, samples
lost in the recorder's queue, and the worst staleness seen on the control grid, and grades
each against thresholds (by default: warn at 2x, fail at 4x the stream's nominal period).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from vipflow.episodes.grid import causal_index, grid_ticks

STATUS_ORDER = ("ok", "warn", "fail")
_NUMBER_FIELDS = ("nominal_hz", "achieved_hz", "max_gap_s", "max_staleness_s")
_COUNT_FIELDS = ("count", "late", "dropped", "queue_drops")


@dataclass(frozen=True)
class CadenceThresholds:
    warn_factor: float = 2.0  # gap or staleness above this many nominal periods -> warn
    fail_factor: float = 4.0  # ... -> fail
    min_rate_warn: float = 0.9  # achieved / nominal rate below this -> warn
    min_rate_fail: float = 0.75  # ... -> fail


@dataclass
class StreamCadence:
    stream: str
    count: int
    nominal_hz: float
    achieved_hz: float
    max_gap_s: float
    late: int  # gaps longer than warn_factor nominal periods
    dropped: int  # samples missing from the stamps' gaps (source-side drops)
    queue_drops: int  # samples the recorder dropped because its writer fell behind
    max_staleness_s: float  # worst age of the causal sample at a grid tick
    status: str = "ok"
    reasons: list[str] = field(default_factory=list)


@dataclass
class CadenceReport:
    grid_hz: float
    ticks: int
    streams: dict[str, StreamCadence]
    status: str = "ok"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CadenceReport:
        """Rebuild a stored report; ValueError/TypeError/KeyError when it is malformed."""
        streams = {k: StreamCadence(**v) for k, v in dict(data.get("streams", {})).items()}
        report = cls(grid_hz=data["grid_hz"], ticks=data["ticks"], streams=streams, status=data["status"])
        numbers = [report.grid_hz] + [getattr(s, f) for s in streams.values() for f in _NUMBER_FIELDS]
        counts = [report.ticks] + [getattr(s, f) for s in streams.values() for f in _COUNT_FIELDS]
        statuses = [report.status] + [s.status for s in streams.values()]
        real = (int, float)
        if not all(isinstance(x, real) and not isinstance(x, bool) and np.isfinite(x) for x in numbers):
            raise ValueError("cadence report holds a non-numeric rate, gap or staleness")
        if not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in counts):
            raise ValueError("cadence report holds a count that is not a non-negative integer")
        if not all(s in STATUS_ORDER for s in statuses):
            raise ValueError(f"cadence status must be one of {STATUS_ORDER}")
        if not all(isinstance(s.reasons, list) and all(isinstance(r, str) for r in s.reasons)
                   for s in streams.values()):
            raise ValueError("cadence reasons must be lists of text")
        return report

    def summary(self) -> str:
        parts = [
            f"{s.stream} {s.achieved_hz:.1f}/{s.nominal_hz:.0f}Hz"
            + (f" drop {s.dropped + s.queue_drops}" if s.dropped + s.queue_drops else "")
            + (f" stale {s.max_staleness_s * 1e3:.0f}ms" if s.status != "ok" else "")
            for s in self.streams.values()
        ]
        return f"cadence {self.status}: " + ", ".join(parts)

    def problems(self) -> list[str]:
        return [f"{s.stream}: {r}" for s in self.streams.values() for r in s.reasons]


def nominal_rates(meta) -> dict[str, float]:
    """Expected rate per stream from an EpisodeMeta (camera fps, robot state rate, control grid)."""
    state = meta.robot.get("state_rate_hz")
    rates = {
        "camera": meta.camera.get("fps"),
        "joint_states": state,
        "ee_pose": state,
        "gripper": state,
        "action": meta.nominal_rate_hz,
        "reward": meta.nominal_rate_hz,
    }
    return {k: float(v) for k, v in rates.items() if v}


def _worse(a: str, b: str) -> str:
    return max(a, b, key=STATUS_ORDER.index)


def cadence_report(
    stamps: dict[str, np.ndarray],
    nominal_hz: dict[str, float] | None = None,
    grid_hz: float = 25.0,
    queue_drops: dict[str, int] | None = None,
    thresholds: CadenceThresholds | None = None,
) -> CadenceReport:
    """Grade each stream's arrival times (ns, ascending). Unknown nominal rates are estimated
    from the median gap, so only gaps (not the overall rate) can be judged for them."""
    th = thresholds or CadenceThresholds()
    nominal_hz = nominal_hz or {}
    queue_drops = queue_drops or {}
    live = {k: np.asarray(v, dtype=np.int64) for k, v in stamps.items() if len(v) >= 2}
    ticks = (
        grid_ticks([int(v[0]) for v in live.values()], [int(v[-1]) for v in live.values()], grid_hz)
        if live
        else np.zeros(0, dtype=np.int64)
    )
    streams: dict[str, StreamCadence] = {}
    overall = "ok"
    for name, raw in stamps.items():
        st = np.asarray(raw, dtype=np.int64)
        qd = int(queue_drops.get(name, 0))
        if len(st) < 2:
            sc = StreamCadence(
                name,
                len(st),
                float(nominal_hz.get(name, 0.0)),
                0.0,
                0.0,
                0,
                0,
                qd,
                0.0,
                "fail",
                [f"only {len(st)} sample(s) recorded"],
            )
            streams[name] = sc
            overall = "fail"
            continue
        gaps = np.diff(st) / 1e9
        nominal = float(nominal_hz.get(name) or 1.0 / max(float(np.median(gaps)), 1e-9))
        period = 1.0 / nominal
        duration = (st[-1] - st[0]) / 1e9
        achieved = (len(st) - 1) / duration if duration > 0 else 0.0
        late = int(np.sum(gaps > th.warn_factor * period))
        dropped = int(np.sum(np.maximum(np.round(gaps / period) - 1, 0)))
        idx = causal_index(st, ticks)
        valid = idx >= 0
        staleness = float(np.max((ticks[valid] - st[idx[valid]]) / 1e9)) if valid.any() else 0.0
        status, reasons = "ok", []
        ratio = achieved / nominal
        if ratio < th.min_rate_fail:
            status, reasons = (
                "fail",
                [*reasons, f"rate {achieved:.1f} Hz < {th.min_rate_fail:.0%} of {nominal:.1f}"],
            )
        elif ratio < th.min_rate_warn:
            status, reasons = (
                "warn",
                [*reasons, f"rate {achieved:.1f} Hz < {th.min_rate_warn:.0%} of {nominal:.1f}"],
            )
        worst = max(staleness, float(gaps.max()))
        if worst > th.fail_factor * period:
            status = _worse(status, "fail")
            reasons.append(
                f"gap/staleness {worst * 1e3:.0f} ms > {th.fail_factor:g}x period {period * 1e3:.0f} ms"
            )
        elif worst > th.warn_factor * period:
            status = _worse(status, "warn")
            reasons.append(
                f"gap/staleness {worst * 1e3:.0f} ms > {th.warn_factor:g}x period {period * 1e3:.0f} ms"
            )
        if qd:
            status = _worse(status, "warn")
            reasons.append(f"{qd} sample(s) dropped by the recorder queue (writer too slow)")
        streams[name] = StreamCadence(
            name, len(st), nominal, achieved, float(gaps.max()), late, dropped, qd, staleness, status, reasons
        )
        overall = _worse(overall, status)
    return CadenceReport(grid_hz=grid_hz, ticks=len(ticks), streams=streams, status=overall)
