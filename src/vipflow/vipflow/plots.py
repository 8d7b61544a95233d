"""Shared PNG plots (matplotlib, Agg backend: works on headless machines)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from vipflow.rewards import distance_to_goal, step_rewards


def plot_reward_curves(
    path: str | Path,
    values_by_goal: dict[str, np.ndarray],
    *,
    title: str,
    fps: float | None = None,
    distance_label: str = "distance to goal",
) -> Path:
    """Distance-to-goal curves (-value; one line per goal, e.g. image and text goals overlaid for LIV)
    above the per-step rewards r_t = v[t+1] - v[t], as in the VIP/LIV papers' figures."""
    path = Path(path)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, height_ratios=(2, 1))
    for goal, values in values_by_goal.items():
        x = np.arange(len(values)) / fps if fps else np.arange(len(values))
        top.plot(x, distance_to_goal(values), marker="." if len(values) <= 60 else None, label=goal)
        bottom.plot(x[1:], step_rewards(values), label=goal)
    top.set_ylabel(distance_label)
    top.set_title(title)
    top.grid(alpha=0.3)
    top.legend(title="goal")
    bottom.axhline(0.0, color="black", linewidth=0.8)
    bottom.set_ylabel("reward $v_{t+1}-v_t$")
    bottom.set_xlabel("time [s]" if fps else "frame")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
