"""Comparison table across policies and seeds, in the shape of the VIP paper's Table 1.

Rows are tasks, columns are policies (the ``--name`` given at evaluation, e.g. VIP-RWR, R3M-BC),
cells are success % as ``mean ± std`` like the paper, plus the Wilson 95 % interval on all
rollouts pooled. With one seed the ± is the standard deviation over rollouts (the paper's
convention: 9/10 reads 90 ± 30); with several seeds it is the standard deviation of the
per-seed success rates. The best mean per row is bold.

Rollouts of two policies that started from the same scene (the simulator's reset seed, a trial
of a paired session) pair up: for each task and pair of policies the table reports the paired
difference in success and the exact McNemar test on the discordant pairs (two-sided binomial
test at 1/2), which is far more sensitive than comparing two Wilson intervals.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
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


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` pairs won only by the first policy and ``c`` only by
    the second: P(a Binomial(b + c, 1/2) count at least as far from (b + c)/2); 1 with no discordant pair."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2.0 * tail)


@dataclass(frozen=True)
class PairedDifference:
    """Policy ``a`` minus policy ``b`` on the rollouts of one task that started from the same scenes."""

    task: str
    a: str
    b: str
    pairs: int
    a_only: int  # pairs where only a succeeded
    b_only: int

    @property
    def diff(self) -> float:
        """Paired difference in success, percentage points."""
        return 100.0 * (self.a_only - self.b_only) / self.pairs if self.pairs else float("nan")

    @property
    def p_value(self) -> float:
        return mcnemar_exact(self.a_only, self.b_only)

    def text(self) -> str:
        return (f"{self.diff:+.0f} pts ({self.a_only} vs {self.b_only} of {self.pairs}), "
                f"p = {self.p_value:.2g}")

    def to_json(self) -> dict:
        return {"task": self.task, "a": self.a, "b": self.b, "pairs": self.pairs, "a_only": self.a_only,
                "b_only": self.b_only, "diff_pts": self.diff, "mcnemar_p": self.p_value}


def paired_difference(task: str, a: str, b: str, outcomes_a: dict, outcomes_b: dict) -> PairedDifference:
    """Compare two policies' judged outcomes keyed by start (``Ledger.outcomes_by_start``)."""
    common = sorted(set(outcomes_a) & set(outcomes_b))
    a_only = sum(1 for k in common if outcomes_a[k] and not outcomes_b[k])
    b_only = sum(1 for k in common if outcomes_b[k] and not outcomes_a[k])
    return PairedDifference(task, a, b, len(common), a_only, b_only)


@dataclass(frozen=True)
class ComparisonTable:
    tasks: list[str]
    policies: list[str]
    cells: dict[tuple[str, str], Cell]
    paired: list[PairedDifference] = field(default_factory=list)

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
        if self.paired:
            lines += ["", *self.paired_markdown()]
        return "\n".join(lines)

    def paired_rows(self) -> list[list[str]]:
        return [[d.task, f"{d.a} − {d.b}", str(d.pairs), f"{d.a_only} / {d.b_only}", f"{d.diff:+.0f}",
                 f"{d.p_value:.3g}"] for d in self.paired]

    def paired_markdown(self) -> list[str]:
        lines = ["| Task | A − B | Pairs | A only / B only | Paired difference (pts) | McNemar p |",
                 "|---|---|---|---|---|---|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.paired_rows()]
        lines += ["", "Pairs: rollouts of both policies from the same start (simulator reset seed or paired "
                  "trial). Difference: success of A minus B on those pairs. McNemar: two-sided exact "
                  "binomial test on the discordant pairs (A only vs B only)."]
        return lines

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
        paired = self.paired_rows()
        width = max(2.0 + 2.1 * len(self.policies), 9.0 if paired else 0.0)
        heights = [0.8 + 0.45 * (len(rows) + 1)] + ([0.8 + 0.4 * (len(paired) + 1)] if paired else [])
        fig, axes = plt.subplots(len(heights), 1, figsize=(width, sum(heights)),
                                 gridspec_kw={"height_ratios": heights}, squeeze=False)
        ax = axes[0, 0]
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
        if paired:
            pax = axes[1, 0]
            pax.axis("off")
            ptable = pax.table(cellText=[r[1:] for r in paired], rowLabels=[r[0] for r in paired],
                               colLabels=["A − B", "pairs", "A only / B only", "diff (pts)", "McNemar p"],
                               loc="center", cellLoc="center")
            ptable.auto_set_font_size(False)
            ptable.set_fontsize(9)
            ptable.scale(1.0, 1.3)
            for i, d in enumerate(self.paired, start=1):
                if d.p_value < 0.05:
                    ptable[i, 4].set_text_props(fontweight="bold")
            pax.set_title("Paired differences (same starts), exact McNemar test; p < 0.05 in bold",
                          fontsize=10)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            save_png(fig, path, dpi=150)
        finally:
            plt.close(fig)
        return path


def comparison_table(ledgers: Iterable[Ledger], baseline: str | None = None) -> ComparisonTable:
    """Group ledgers by (task, policy name); seeds of the same pair are pooled into one cell. Paired
    differences: every policy against ``baseline``, or every pair of policies when it is None."""
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
    if baseline is not None and baseline not in policies:
        raise ValueError(f"baseline {baseline!r} is not one of the policies {policies}")
    outcomes = {key: {k: v for led in group for k, v in led.outcomes_by_start().items()}
                for key, group in groups.items()}
    if baseline is None:
        comparisons = list(itertools.combinations(policies, 2))
    else:
        comparisons = [(p, baseline) for p in policies if p != baseline]
    paired = []
    for task in tasks:
        for a, b in comparisons:
            if (task, a) in outcomes and (task, b) in outcomes:
                diff = paired_difference(task, a, b, outcomes[(task, a)], outcomes[(task, b)])
                if diff.pairs:
                    paired.append(diff)
    return ComparisonTable(tasks, policies, cells, paired)
