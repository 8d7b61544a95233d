"""Comparison table across policies and seeds, in the shape of the VIP paper's Table 1.

Rows are tasks, columns are policies (the ``--name`` given at evaluation, e.g. VIP-RWR, R3M-BC),
cells are success % as ``mean ± std`` like the paper, plus the Wilson 95 % interval on all
rollouts pooled. With one seed the ± is the standard deviation over rollouts (the paper's
convention: 9/10 reads 90 ± 30); with several seeds it is the standard deviation of the
per-seed success rates. The best mean per row is bold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vipflow.durable import save_png
from vipflow.evaluation.ledger import Ledger, wilson_interval


@dataclass(frozen=True)
class Cell:
    successes: int
    n: int
    seeds: tuple[int, ...]
    seed_rates: tuple[float, ...]

    @property
    def mean(self) -> float:
        return 100.0 * self.successes / self.n if self.n else float("nan")

    @property
    def std(self) -> float:
        if len(self.seeds) > 1:
            return 100.0 * float(np.std(self.seed_rates))
        p = self.successes / self.n if self.n else 0.0
        return 100.0 * float(np.sqrt(p * (1 - p)))

    @property
    def wilson(self) -> tuple[float, float]:
        lo, hi = wilson_interval(self.successes, self.n)
        return 100.0 * lo, 100.0 * hi

    def text(self) -> str:
        if not self.n:
            return "—"
        lo, hi = self.wilson
        return f"{self.mean:.0f} ± {self.std:.0f} [{lo:.0f}, {hi:.0f}]"


@dataclass(frozen=True)
class ComparisonTable:
    tasks: list[str]
    policies: list[str]
    cells: dict[tuple[str, str], Cell]

    def best(self, task: str) -> set[str]:
        means = {p: self.cells[(task, p)].mean for p in self.policies if (task, p) in self.cells}
        means = {p: m for p, m in means.items() if not np.isnan(m)}
        top = max(means.values(), default=None)
        return {p for p, m in means.items() if top is not None and m == top}

    def rows(self) -> list[list[str]]:
        out = []
        for task in self.tasks:
            row = [task]
            for p in self.policies:
                cell = self.cells.get((task, p))
                row.append(cell.text() if cell else "—")
            out.append(row)
        return out

    def to_markdown(self) -> str:
        lines = ["| Task | " + " | ".join(self.policies) + " |", "|---" * (len(self.policies) + 1) + "|"]
        for task, row in zip(self.tasks, self.rows(), strict=True):
            best = self.best(task)
            cells = [f"**{t}**" if p in best else t for p, t in zip(self.policies, row[1:], strict=True)]
            lines.append(f"| {task} | " + " | ".join(cells) + " |")
        lines.append("")
        lines.append(self.caption())
        return "\n".join(lines)

    def caption(self) -> str:
        counts = sorted({(c.n, len(c.seeds)) for c in self.cells.values()})
        sizes = ", ".join(f"{n} rollouts over {s} seed{'s' if s > 1 else ''}" for n, s in counts)
        return (
            "Success % as mean ± std (std over rollouts for one seed, over per-seed rates for several; "
            f"the VIP paper's convention) and [Wilson 95 % interval] on pooled rollouts. Cells: {sizes}. "
            "Best mean per task in bold."
        )

    def to_png(self, path: str | Path) -> Path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt


        path = Path(path)
        rows = self.rows()
        width = 2.0 + 2.1 * len(self.policies)
        fig, ax = plt.subplots(figsize=(width, 0.8 + 0.45 * (len(rows) + 1)))
        ax.axis("off")
        table = ax.table(cellText=[r[1:] for r in rows], rowLabels=[r[0] for r in rows],
                         colLabels=self.policies, loc="center", cellLoc="center")
        table.auto_set_font_size(False)
        table.set_fontsize(9)
        table.scale(1.0, 1.4)
        for i, task in enumerate(self.tasks, start=1):
            best = self.best(task)
            for j, p in enumerate(self.policies):
                if p in best:
                    table[i, j].set_text_props(fontweight="bold")
        ax.set_title("Success % (mean ± std) [Wilson 95 % CI]", fontsize=10)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            save_png(fig, path, dpi=150)
        finally:
            plt.close(fig)
        return path


def comparison_table(ledgers: Iterable[Ledger]) -> ComparisonTable:
    """Group ledgers by (task, policy name); seeds of the same pair are pooled into one cell."""
    groups: dict[tuple[str, str], list[Ledger]] = {}
    tasks: list[str] = []
    policies: list[str] = []
    for led in ledgers:
        task, name = led.task, str(led.policy.get("name") or "policy")
        if task not in tasks:
            tasks.append(task)
        if name not in policies:
            policies.append(name)
        groups.setdefault((task, name), []).append(led)
    cells = {}
    for key, group in groups.items():
        seeds = tuple(led.seed for led in group)
        if len(set(seeds)) != len(seeds):
            raise ValueError(
                f"two ledgers for {key[1]} on {key[0]} have the same seed {seeds}; pass each evaluation once"
            )
        rates = tuple(led.success_rate for led in group if led.n)
        cells[key] = Cell(sum(led.successes for led in group), sum(led.n for led in group), seeds, rates)
    return ComparisonTable(tasks, policies, cells)
