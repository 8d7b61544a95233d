"""Shared PNG plots (matplotlib, Agg backend: works on headless machines)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from vipflow.rewards import distance_to_goal, step_rewards

if TYPE_CHECKING:
    from vipflow.evaluation.table import ComparisonTable


def plot_reward_curves(
    path: str | Path,
    values_by_goal: dict[str, np.ndarray],
    *,
    title: str,
    fps: float | None = None,
    distance_label: str = "distance to goal",
    goal_frames: dict[str, tuple[int, ...]] | None = None,
) -> Path:
    """Distance-to-goal curves (-value; one line per goal, e.g. image and text goals overlaid for LIV)
    above the per-step rewards r_t = v[t+1] - v[t], as in the VIP/LIV papers' figures; frames that
    make up a goal (``goal_frames``) are starred."""
    path = Path(path)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, height_ratios=(2, 1))
    for goal, values in values_by_goal.items():
        x = np.arange(len(values)) / fps if fps else np.arange(len(values))
        top.plot(x, distance_to_goal(values), marker="." if len(values) <= 60 else None, label=goal)
        idx = np.asarray((goal_frames or {}).get(goal, ()), dtype=int)
        if idx.size:
            _star_goal_frames(top, x[idx], distance_to_goal(values)[idx], f"goal frames ({goal})")
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


def _star_goal_frames(ax, x: np.ndarray, y: np.ndarray, label: str | None) -> None:
    ax.scatter(x, y, marker="*", s=110, color="gold", edgecolor="black", zorder=3, label=label)


LABEL_COLORS = {"success": "tab:green", "failure": "tab:red", "unlabeled": "tab:gray"}


@dataclass(frozen=True)
class LabeledCurve:
    """One recording's values against the goal, its label, and which of its frames define the goal."""

    name: str
    values: np.ndarray
    label: str | None = None  # success / failure / unlabeled (None: unlabeled)
    goal_frames: tuple[int, ...] = ()  # frame indices whose embeddings make up the goal


def plot_labeled_curves(
    path: str | Path,
    curves: list[LabeledCurve],
    *,
    title: str,
    fps: float | None = 25.0,
    distance_label: str = "distance to goal (−value)",
) -> Path:
    """Distance to goal of every recording, coloured by its label (success green, failure red), with
    the goal frames starred; below, the mean per-step reward per label."""
    path = Path(path)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, height_ratios=(2, 1))
    seen: set[str] = set()
    starred = False
    for c in curves:
        label = c.label or "unlabeled"
        t = np.arange(len(c.values)) / fps if fps else np.arange(len(c.values))
        d = distance_to_goal(c.values)
        top.plot(t, d, color=LABEL_COLORS.get(label, "tab:gray"), alpha=0.7, lw=1,
                 label=None if label in seen else label)
        seen.add(label)
        if c.goal_frames:
            idx = np.asarray(c.goal_frames)
            _star_goal_frames(top, t[idx], d[idx], None if starred else "goal frames")
            starred = True
    top.set_ylabel(distance_label)
    top.set_title(title)
    top.grid(alpha=0.3)
    top.legend()
    for label in ("success", "failure", "unlabeled"):
        series = [step_rewards(c.values) for c in curves
                  if (c.label or "unlabeled") == label and len(c.values) > 1]
        if series:
            n = min(len(s) for s in series)
            x = np.arange(1, n + 1) / fps if fps else np.arange(1, n + 1)
            bottom.plot(x, np.mean([s[:n] for s in series], axis=0), color=LABEL_COLORS[label],
                        label=f"{label} (mean of {len(series)})")
    bottom.axhline(0.0, color="black", lw=0.5)
    bottom.set_ylabel("reward $v_{t+1}-v_t$")
    bottom.set_xlabel("time [s]" if fps else "frame")
    bottom.grid(alpha=0.3)
    bottom.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


@dataclass(frozen=True)
class SuccessBar:
    task: str
    policy: str
    x: float  # bar centre: task index + the policy's offset in the group
    mean: float  # pooled success %
    wilson: tuple[float, float]  # 95 % interval, %
    n: int


def success_bars(table: ComparisonTable) -> list[SuccessBar]:
    """One bar per (task, policy) cell that has rollouts, grouped by task."""
    n_pol = max(len(table.policies), 1)
    bars = []
    for j, policy in enumerate(table.policies):
        for i, task in enumerate(table.tasks):
            cell = table.cells.get((task, policy))
            if cell is not None and cell.n:
                x = i + (j - (n_pol - 1) / 2) * 0.8 / n_pol
                bars.append(SuccessBar(task, policy, x, cell.mean, cell.wilson, cell.n))
    return bars


def plot_success_bars(table: ComparisonTable, path: str | Path) -> Path:
    """The success table as grouped bars: one group per task, one bar per policy (pooled success %),
    whiskers = the Wilson 95 % interval on the pooled rollouts, n at the foot of each bar."""
    path = Path(path)
    n_pol = max(len(table.policies), 1)
    width = 0.8 / n_pol
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(table.tasks) * max(n_pol, 2) / 2, 4.2))
    all_bars = success_bars(table)
    for policy in table.policies:
        mine = [b for b in all_bars if b.policy == policy]
        yerr = [[b.mean - b.wilson[0] for b in mine], [b.wilson[1] - b.mean for b in mine]]
        bars = ax.bar([b.x for b in mine], [b.mean for b in mine], width * 0.92, yerr=yerr, capsize=4,
                      label=policy, error_kw={"elinewidth": 1.2, "ecolor": "black"})
        for bar, n in zip(bars, [b.n for b in mine], strict=True):
            ax.text(bar.get_x() + bar.get_width() / 2, 1.5, f"n={n}", ha="center", va="bottom", fontsize=7,
                    color="white" if bar.get_height() > 12 else "black")
    ax.set_xticks(range(len(table.tasks)), table.tasks)
    ax.set_ylim(0, 105)
    ax.set_ylabel("success % (whiskers: Wilson 95 % CI)")
    ax.set_title("Success rate per policy and task")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(title="policy", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
