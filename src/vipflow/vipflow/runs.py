"""Run folders: the one layout policy training and encoder training write and resume from.

    <run>/config.json                     the resolved config (``config_schema.to_json``) and what
                                          the data resolved to; resume compares against it
    <run>/metrics.csv                     one row per logged step, resumable (rows past the
                                          resumed checkpoint are dropped)
    <run>/<curves>.png, summary.json
    <run>/checkpoints/step_00001000/      one checkpoint; its files belong to the trainer
    <run>/checkpoints/last                text file naming the newest complete checkpoint

A checkpoint is written into a hidden temporary folder, fsynced and renamed, then ``last`` is
replaced atomically, so a crash leaves the previous checkpoint intact and pointed to. Pointers
are closed: ``last`` is a plain file holding one name of a folder inside the run; a path, ``..``,
a symlink, a loop, a folder, or a target outside the run is a named error, never followed.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vipflow.config_schema import DuplicateKeyError, parse_json
from vipflow.durable import DISK_FULL_ERRNOS, atomic_write_text, disk_full_error, fsync_dir, fsync_file

CHECKPOINTS = "checkpoints"
LAST = "last"
CONFIG_JSON = "config.json"
METRICS_CSV = "metrics.csv"
SUMMARY_JSON = "summary.json"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class RunError(Exception):
    """A run folder cannot be created, read or resumed as asked; the message names the fix."""


class CheckpointError(RunError):
    """A checkpoint or its pointer is missing, incomplete, corrupt, outside its run or of another kind."""


def checkpoint_name(step: int) -> str:
    return f"step_{step:08d}"


def write_json(path: Path, data: Any) -> None:
    """Atomic JSON write (temporary file + rename): readers never see half a file."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path, error: type[Exception] = RunError) -> Any:
    """A run's JSON file (config, state), strictly: duplicate keys are an error, not a silent override."""
    try:
        return parse_json(path.read_text())
    except FileNotFoundError:
        raise error(f"{path} is missing; the run or checkpoint is incomplete") from None
    except (ValueError, DuplicateKeyError) as exc:
        raise error(f"{path} is not valid JSON ({exc}); the file is corrupt") from None
    except OSError as exc:
        raise error(f"{path} cannot be read: {exc}") from None


@dataclass(frozen=True)
class RunLayout:
    """One kind of run: what its checkpoints hold and which error names their problems."""

    what: str  # named in errors: "policy", "training"
    marker: str  # the file that makes a folder a checkpoint (policy.json, state.json)
    error: type[CheckpointError] = CheckpointError
    files: tuple[str, ...] = ()  # checkpoint files accepted in place of their folder

    def latest(self, run_dir: str | Path) -> Path | None:
        """The checkpoint ``checkpoints/last`` names; None only when the run has no pointer yet."""
        pointer = Path(run_dir) / CHECKPOINTS / LAST
        if not os.path.lexists(pointer):
            return None
        fix = f"write the name of one of its checkpoint folders (e.g. {checkpoint_name(100)}) into {pointer}"
        if pointer.is_symlink():
            raise self.error(f"{pointer} is a symlink; a checkpoint pointer must be a plain file: {fix}")
        if not pointer.is_file():
            raise self.error(f"{pointer} is not a file (a folder?); {fix}")
        try:
            name = pointer.read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise self.error(f"{pointer} cannot be read ({exc}); {fix}") from None
        if not _NAME.match(name) or name in (".", ".."):
            raise self.error(
                f"{pointer} holds {name[:80]!r}, not the name of a checkpoint folder inside the run "
                f"(a path, '..' or an absolute path is never followed); {fix}"
            )
        target = pointer.parent / name
        inside = Path(os.path.realpath(Path(run_dir)))
        if not Path(os.path.realpath(target)).is_relative_to(inside):
            raise self.error(f"{pointer} names {name}, a symlink leading out of the run {run_dir}; {fix}")
        if not (target / self.marker).is_file():
            raise self.error(f"{pointer} points to {name}, which is missing or incomplete; {fix}")
        return target

    def resolve(self, path: str | Path) -> Path:
        """A run folder (its ``last`` checkpoint), its ``checkpoints`` folder, a checkpoint folder, or one
        of ``files`` -> the checkpoint folder."""
        p = Path(path)
        if p.is_file() and p.name in self.files:
            return p.parent
        if (p / self.marker).is_file():
            return p
        run_dir = p.parent if p.name == CHECKPOINTS else p
        found = self.latest(run_dir) if (run_dir / CHECKPOINTS).is_dir() else None
        if found is not None:
            return found
        if not p.exists():
            raise self.error(
                f"no {self.what} checkpoint at {p}: it does not exist; pass a run folder or one of its "
                "checkpoints/step_* folders"
            )
        raise self.error(
            f"no {self.what} checkpoint at {p} (neither {self.marker} nor checkpoints/{LAST}); pass the run "
            "folder a training wrote or one of its checkpoints/step_* folders"
        )

    def save(
        self, run_dir: str | Path, step: int, write: Callable[[Path], None], keep: int | None = None
    ) -> Path:
        """Write checkpoint ``step`` with ``write(folder)``, durably, point ``last`` at it, keep the
        newest ``keep`` checkpoints (None: all)."""
        root = Path(run_dir) / CHECKPOINTS
        name = checkpoint_name(step)
        tmp = root / f".{name}.tmp"
        try:
            root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            write(tmp)
            for f in tmp.iterdir():
                fsync_file(f)
            final = root / name
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
            fsync_dir(root)
            atomic_write_text(root / LAST, name + "\n")
        except OSError as exc:  # a full disk above all: never leave a half-written .tmp behind
            shutil.rmtree(tmp, ignore_errors=True)
            if exc.errno not in DISK_FULL_ERRNOS:
                raise
            raise disk_full_error(
                tmp, f"writing {self.what} checkpoint", "the previous checkpoint is intact; free space and "
                f"resume the run ({run_dir})",
            ) from exc
        if keep:
            old = sorted(p for p in root.glob("step_*") if p.is_dir() and p.name != name)
            for p in old[: max(0, len(old) + 1 - keep)]:
                shutil.rmtree(p, ignore_errors=True)
        return final


# -- metrics.csv -------------------------------------------------------------------------------------
class MetricsCSV:
    """``metrics.csv``: one row per logged step; the header is the union of the keys seen (rewritten
    when it grows). On resume, rows past the checkpoint's step are dropped so the log matches the
    weights being continued; ``elapsed_offset`` carries the training time already spent."""

    def __init__(
        self, path: Path, columns: Sequence[str] = ("step",), resume_step: int | None = None
    ) -> None:
        self.path = path
        self.rows: list[dict[str, str]] = []
        if resume_step is not None and path.is_file():
            with path.open(newline="") as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        self.columns = list(dict.fromkeys(("step", *columns)))
        for row in self.rows:
            self._extend(row)
        self._rewrite()

    def _extend(self, row: Mapping[str, str]) -> bool:
        new = [k for k in row if k not in self.columns]
        self.columns += new
        return bool(new)

    def _rewrite(self) -> None:
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns, restval="")
            writer.writeheader()
            writer.writerows(self.rows)

    def write(self, step: int, values: Mapping[str, float | None]) -> None:
        row = {"step": str(step)} | {k: "" if v is None else f"{v:.6g}" for k, v in values.items()}
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
    """Column -> [(step, value)] over the non-empty cells of a ``metrics.csv``."""
    series: dict[str, list[tuple[int, float]]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                if k != "step" and v not in ("", None):
                    series.setdefault(k, []).append((int(row["step"]), float(v)))
    return series


# -- curves ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Panel:
    """One axis of a training-curve figure: which ``metrics.csv`` columns, and how to draw them."""

    ylabel: str
    columns: tuple[str, ...] | None = None  # None: every column no other panel names, minus `ignore`
    styles: Mapping[str, str] = field(default_factory=dict)  # column -> matplotlib format, e.g. "o-"
    labels: Mapping[str, str] = field(default_factory=dict)  # column -> legend text
    bold: str = ""  # a column drawn thicker (the total loss among its terms)
    ylim: tuple[float, float] | None = None
    log_when_positive: bool = False  # log scale unless a value is <= 0 (a Gaussian NLL can be)
    zero_line: bool = False


def plot_curves(
    csv_path: Path, png_path: Path, title: str, panels: Sequence[Panel], ignore: Sequence[str] = ()
) -> Path:
    """The run's ``metrics.csv`` as a PNG, one axis per panel sharing the step axis."""
    import matplotlib  # imported here: only the process that writes plots pays for it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = read_series(csv_path)
    named = {c for p in panels for c in (p.columns or ())}
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(8, 1.5 + 2.5 * len(panels)), sharex=True, squeeze=False,
        height_ratios=[3 if p.columns is None else 2 for p in panels],
    )  # fmt: skip
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        columns = panel.columns or tuple(k for k in series if k not in named and k not in ignore)
        drawn = []
        for name in columns:
            points = [(s, v) for s, v in series.get(name, []) if math.isfinite(v)]
            if not points:
                continue
            steps, vals = zip(*points, strict=True)
            label = panel.labels.get(name, name.replace("_", " "))
            ax.plot(steps, vals, panel.styles.get(name, "-"), markersize=3, label=label,
                    lw=2.0 if name == panel.bold else 1.0)  # fmt: skip
            drawn.append(vals)
        if panel.log_when_positive and drawn and all(v > 0 for vals in drawn for v in vals):
            ax.set_yscale("log")
        if panel.ylim:
            ax.set_ylim(*panel.ylim)
        if panel.zero_line:
            ax.axhline(0, color="grey", lw=0.5)
        ax.set_ylabel(panel.ylabel)
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize=8, ncol=3 if len(drawn) > 3 else 1)
    axes[0, 0].set_title(title)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return png_path
