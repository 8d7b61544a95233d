"""Looking at an episode: a text report, a PNG contact sheet, and an mp4 of its frames."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vipflow.durable import save_png
from vipflow.episodes.reader import Episode
from vipflow.video import write_video


def describe(ep: Episode, rate_hz: float | None = None) -> str:
    """Metadata, topics and the cadence report (recomputed from the bag) as text."""
    meta = ep.meta
    lines = [
        f"episode   {ep.path}",
        f"task      {meta.task!r}  goal {meta.goal_text!r}",
        f"label     {meta.label}{'  (INCOMPLETE: recovered after a crash)' if meta.incomplete else ''}",
        f"operator  {meta.operator or '-'}  tags {', '.join(meta.tags) or '-'}  source {meta.source or '-'}",
        f"recorded  {np.datetime64(meta.start_time_ns, 'ns').astype('datetime64[s]')} UTC  "
        f"vipflow {meta.software_version}  nominal {meta.nominal_rate_hz:g} Hz",
        f"camera    {json.dumps(meta.camera, sort_keys=True)}",
        f"robot     {json.dumps(meta.robot, sort_keys=True)}",
        "topics",
        *(f"  {t:40s} {ty:32s} {n:7d}" for t, (ty, n) in sorted(ep.topics.items())),
    ]
    report = ep.cadence(rate_hz)
    lines.append(f"cadence   {report.status} on a {report.grid_hz:g} Hz grid ({report.ticks} ticks)")
    lines.append(
        f"  {'stream':13s} {'count':>6s} {'nominal':>8s} {'achieved':>9s} {'max gap':>8s} {'late':>5s} "
        f"{'dropped':>8s} {'queue':>6s} {'stale':>7s}  status"
    )
    for s in report.streams.values():
        lines.append(
            f"  {s.stream:13s} {s.count:6d} {s.nominal_hz:8.1f} {s.achieved_hz:9.2f} "
            f"{s.max_gap_s * 1e3:6.1f}ms {s.late:5d} {s.dropped:8d} {s.queue_drops:6d} "
            f"{s.max_staleness_s * 1e3:5.1f}ms  {s.status} {'; '.join(s.reasons)}"
        )
    return "\n".join(lines)


def contact_sheet(ep: Episode, out: str | Path, n: int = 12, rate_hz: float = 25.0, cols: int = 6) -> Path:
    """PNG: ``n`` evenly spaced grid frames with their times, and the gripper/joint curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = ep.on_grid(rate_hz)
    if len(grid) == 0:
        raise ValueError(f"{ep.path.name} has no control ticks to show")
    idx = np.unique(np.linspace(0, len(grid) - 1, min(n, len(grid))).round().astype(int))
    rows = -(-len(idx) // cols)
    t = (grid.t_ns - grid.t_ns[0]) / 1e9
    fig = plt.figure(figsize=(2.2 * cols, 2.0 * rows + 2.4))
    gs = fig.add_gridspec(rows + 1, cols, height_ratios=[1.0] * rows + [1.2])
    for k, i in enumerate(idx):
        ax = fig.add_subplot(gs[k // cols, k % cols])
        ax.imshow(grid.frames[i])
        ax.set_title(f"t={t[i]:.2f}s", fontsize=8)
        ax.axis("off")
    ax = fig.add_subplot(gs[rows, :])
    ax.plot(t, grid.joint_pos - grid.joint_pos[0], lw=0.8)
    ax.set_ylabel("joint - start (rad)")
    ax.set_xlabel("time (s)")
    ax2 = ax.twinx()
    ax2.plot(t, grid.gripper, "k--", lw=1.0)
    ax2.set_ylabel("gripper (m)")
    meta = ep.meta
    fig.suptitle(
        f"{ep.path.name}  {meta.task}  [{meta.label}]  {len(grid)} ticks @ {rate_hz:g} Hz", fontsize=10
    )
    fig.tight_layout()
    try:
        return save_png(fig, out, dpi=100)
    finally:
        plt.close(fig)


def export_mp4(ep: Episode, out: str | Path, *, grid_rate_hz: float | None = None) -> Path:
    """Every recorded frame at the camera's achieved rate, or (``grid_rate_hz``) the grid view."""
    if grid_rate_hz:
        frames = ep.on_grid(grid_rate_hz).frames
        count, fps = len(frames), grid_rate_hz
    else:
        stamps = ep.stamps().get("camera", np.zeros(0))
        count = len(stamps)
        fps = (count - 1) / ((stamps[-1] - stamps[0]) / 1e9) if count > 1 else 30.0
        frames = (rgb for _, rgb in ep.frames())
    if count == 0:
        raise ValueError(f"{ep.path.name} has no frames to export")
    return write_video(out, frames, fps)
