"""Training logs: ``metrics.csv`` (one row per logged step, columns grow with the terms) and the
training-curve PNG (loss terms on top, held-out VOC and bump rate below)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

FIXED = ("step", "elapsed_s", "samples_per_s", "lr")
VALIDATION = ("val_voc", "val_bump_rate")


class MetricsCSV:
    """Rows are dicts; the header is the union of all keys seen (rewritten when it grows).
    On resume, rows beyond the checkpoint's step are dropped so the log matches the weights."""

    def __init__(self, path: Path, resume_step: int | None = None) -> None:
        self.path = path
        self.rows: list[dict[str, str]] = []
        if resume_step is not None and path.is_file():
            with path.open(newline="") as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        self.columns = list(FIXED)
        for row in self.rows:
            self._extend(row)
        self._rewrite()

    def _extend(self, row: dict) -> bool:
        new = [k for k in row if k not in self.columns]
        self.columns += new
        return bool(new)

    def _rewrite(self) -> None:
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns, restval="")
            writer.writeheader()
            writer.writerows(self.rows)

    def write(self, step: int, values: dict[str, float]) -> None:
        row = {"step": str(step)} | {k: f"{v:.6g}" for k, v in values.items()}
        self.rows.append(row)
        if self._extend(row):
            self._rewrite()
        else:
            with self.path.open("a", newline="") as f:
                csv.DictWriter(f, fieldnames=self.columns, restval="").writerow(row)

    @property
    def elapsed_offset(self) -> float:
        """Training seconds already spent before a resume (for a continuous elapsed_s column)."""
        for row in reversed(self.rows):
            if row.get("elapsed_s"):
                return float(row["elapsed_s"])
        return 0.0


def read_series(path: Path) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                if k != "step" and v not in ("", None):
                    series.setdefault(k, []).append((int(row["step"]), float(v)))
    return series


def plot_curves(csv_path: Path, png_path: Path, title: str) -> Path:
    """Loss terms (``loss`` bold) against step; held-out VOC and bump rate in a second panel."""
    import matplotlib  # imported here: only the process that writes plots pays for it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = read_series(csv_path)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, height_ratios=(3, 2))
    terms = [k for k in series if k not in FIXED and k not in VALIDATION]
    for name in terms:
        steps, vals = zip(*series[name], strict=True)
        top.plot(steps, vals, lw=2.0 if name == "loss" else 1.0, label=name)
    top.set_ylabel("training loss (terms weighted)")
    top.set_title(title)
    top.grid(alpha=0.3)
    if terms:
        top.legend(fontsize=8, ncol=3)
    for name, style in zip(VALIDATION, ("o-", "s--"), strict=True):
        points = [(s, v) for s, v in series.get(name, []) if math.isfinite(v)]
        if points:
            steps, vals = zip(*points, strict=True)
            bottom.plot(steps, vals, style, markersize=3, label=name.replace("val_", "held-out "))
    bottom.set_ylim(-1.05, 1.05)
    bottom.axhline(0, color="grey", lw=0.5)
    bottom.set_xlabel("step")
    bottom.set_ylabel("VOC / bump rate")
    bottom.grid(alpha=0.3)
    if any(series.get(n) for n in VALIDATION):
        bottom.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return png_path
