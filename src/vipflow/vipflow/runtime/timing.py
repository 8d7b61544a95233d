"""Timing statistics of a control loop: periods, deadline misses, encoder latency, frame age.

One summary shape (p50/p95/p99/max/mean/n in milliseconds) serves the results ledger, the loop
benchmark and the CLI, so numbers from different runs are comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def summarize_ms(samples_ms) -> dict[str, float | int | None]:
    """Percentiles of a sample in milliseconds (``None`` fields when there are no samples)."""
    x = np.asarray(list(samples_ms), dtype=np.float64)
    if x.size == 0:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    p50, p95, p99 = np.percentile(x, [50, 95, 99])
    return {
        "n": int(x.size),
        "p50": round(float(p50), 3),
        "p95": round(float(p95), 3),
        "p99": round(float(p99), 3),
        "max": round(float(x.max()), 3),
        "mean": round(float(x.mean()), 3),
    }


def clock_kind(clock: object) -> str:
    """"monotonic" or "simulated": which clock a loop's timing was measured on (``Clock.kind``)."""
    return getattr(clock, "kind", "unknown")


def describe_clock(kind: str | None) -> str:
    """How a timing report names its clock, so simulated time never reads as a real-time measurement."""
    if kind == "simulated":
        return "simulated clock (simulation time, not a real-time measurement)"
    if kind == "monotonic":
        return "monotonic clock (measured in real time)"
    return "unrecorded clock (a ledger from before clocks were recorded)"


@dataclass
class TimingSamples:
    """Raw per-tick samples (ms); concatenate across rollouts, then ``report()``."""

    period_ms: float
    periods: list[float] = field(default_factory=list)
    frame_age: list[float] = field(default_factory=list)
    encoder_latency: list[float] = field(default_factory=list)
    command_latency: list[float] = field(default_factory=list)  # tick wake -> command out
    deadline_misses: int = 0
    ticks: int = 0
    # The loop clock's kind: periods, deadline misses, frame age and command latency are measured on it
    # ("simulated" time is no real-time measurement); encoder latency is always compute wall time.
    clock: str = "monotonic"

    def extend(self, other: TimingSamples) -> None:
        self.periods += other.periods
        self.frame_age += other.frame_age
        self.encoder_latency += other.encoder_latency
        self.command_latency += other.command_latency
        self.deadline_misses += other.deadline_misses
        self.ticks += other.ticks

    def report(self) -> dict:
        return {
            "clock": self.clock,
            "nominal_period_ms": round(self.period_ms, 3),
            "ticks": self.ticks,
            "deadline_misses": self.deadline_misses,
            "loop_period_ms": summarize_ms(self.periods),
            "command_latency_ms": summarize_ms(self.command_latency),
            "encoder_latency_ms": summarize_ms(self.encoder_latency),
            "frame_age_ms": summarize_ms(self.frame_age),
            "frame_age_histogram_ms": histogram(self.frame_age),
        }


def histogram(samples_ms, bin_ms: float = 20.0) -> dict[str, int]:
    """Counts per ``bin_ms`` bin, keyed ``"lo-hi"``; compact enough for a JSON report."""
    x = np.asarray(list(samples_ms), dtype=np.float64)
    if x.size == 0:
        return {}
    edges = np.arange(0.0, max(x.max(), 0.0) + bin_ms, bin_ms)
    if edges.size < 2:
        edges = np.array([0.0, bin_ms])
    counts, edges = np.histogram(x, bins=edges)
    return {f"{lo:g}-{hi:g}": int(c) for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True) if c}
