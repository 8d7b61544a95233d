"""The fixed-rate control grid and causal sample selection.

A policy running at 25 Hz sees, at each tick, the newest message that has *arrived*; training
data must be built the same way or the policy learns from the future. So every resampling in
vipflow picks the latest sample at or before each tick, never the nearest one.
"""

from __future__ import annotations

import numpy as np


def grid_ticks(first_ns: list[int], last_ns: list[int], rate_hz: float) -> np.ndarray:
    """Ticks from when every stream has produced a sample to when the first stream ends.

    Starting at the latest first-sample guarantees each stream has a causal sample at every
    tick; stopping at the earliest last-sample avoids ticks that only stale data could fill.
    """
    if rate_hz <= 0:
        raise ValueError(f"grid rate must be positive, got {rate_hz}")
    start, end = max(first_ns), min(last_ns)
    if end < start:
        return np.zeros(0, dtype=np.int64)
    period = 1e9 / rate_hz
    n = int(np.floor((end - start) / period + 1e-9)) + 1
    return start + np.round(np.arange(n) * period).astype(np.int64)


def causal_index(stamps_ns: np.ndarray, ticks_ns: np.ndarray) -> np.ndarray:
    """Index of the latest sample with stamp <= tick (-1 where none exists yet).

    ``stamps_ns`` must be sorted ascending (bag order per topic is).
    """
    return np.searchsorted(np.asarray(stamps_ns), np.asarray(ticks_ns), side="right") - 1
