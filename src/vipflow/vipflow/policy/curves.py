"""Training metrics as CSV (append-only, consistent across resumes) and the training-curve PNG."""

from __future__ import annotations

import csv
from pathlib import Path

COLUMNS = ("step", "train_loss", "val_loss", "val_mse", "elapsed_s")


class MetricsLog:
    """``metrics.csv``: one row per log/eval point. On resume, rows written after the checkpoint
    (by the interrupted session) are dropped so the log matches the weights being continued."""

    def __init__(self, path: Path, resume_step: int | None = None) -> None:
        self.path = path
        self.elapsed_offset = 0.0
        kept: list[dict[str, str]] = []
        if resume_step is not None and path.exists():
            with open(path, newline="") as f:
                kept = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
            if kept:
                self.elapsed_offset = float(kept[-1]["elapsed_s"] or 0.0)
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(kept)

    def write(self, step: int, elapsed_s: float, **values: float | None) -> None:
        row = {"step": step, "elapsed_s": f"{self.elapsed_offset + elapsed_s:.3f}"}
        row.update({k: "" if v is None else f"{v:.6g}" for k, v in values.items()})
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=COLUMNS).writerow(row)


def read_metrics(path: Path) -> dict[str, list[tuple[int, float]]]:
    """Column name -> [(step, value)] for the non-empty cells."""
    series: dict[str, list[tuple[int, float]]] = {c: [] for c in COLUMNS[1:]}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for c in series:
                if row.get(c):
                    series[c].append((int(row["step"]), float(row[c])))
    return series


def plot_training_curves(csv_path: Path, png_path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = read_metrics(csv_path)
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, style in (("train_loss", "-"), ("val_loss", "o-")):
        if series[name]:
            steps, vals = zip(*series[name], strict=True)
            ax.plot(steps, vals, style, label=name.replace("_", " "), markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("weighted loss (normalised actions)")
    if all(v > 0 for name in ("train_loss", "val_loss") for _, v in series[name]):
        ax.set_yscale("log")  # the Gaussian head's NLL can be negative; keep those linear
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return png_path
