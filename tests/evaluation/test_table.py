"""The comparison table reproduces the VIP paper's cell convention and pools seeds."""

from __future__ import annotations

import pytest

from vipflow.evaluation.ledger import Ledger, RolloutOutcome
from vipflow.evaluation.table import comparison_table, mcnemar_exact


def ledger(name, task, seed, outcomes, sim=False):
    """A ledger; ``sim``: rollouts carry the simulator's reset seed (seed * 1000 + i), so they pair."""
    rollouts = [RolloutOutcome(i, ok, "operator", 100, "completed", None,
                               start={"reset_seed": seed * 1000 + i} if sim else None)
                for i, ok in enumerate(outcomes)]
    return Ledger({"name": name}, task, seed, {}, {}, rollouts)


def test_single_seed_cells_match_the_paper_convention():
    table = comparison_table([
        ledger("VIP-RWR", "CloseDrawer", 0, [True] * 10),
        ledger("VIP-BC", "CloseDrawer", 0, [True] * 5 + [False] * 5),
        ledger("VIP-RWR", "PushBottle", 0, [True] * 9 + [False]),
    ])
    md = table.to_markdown().splitlines()
    assert md[0] == "| Task | VIP-RWR | VIP-BC |"
    assert md[2] == "| CloseDrawer | **100 ± 0 [72, 100]** | 50 ± 50 [24, 76] |"
    assert md[3] == "| PushBottle | **90 ± 30 [60, 98]** | — |"


def test_seeds_are_pooled_and_std_is_over_seeds():
    table = comparison_table([
        ledger("BC", "T", 0, [True] * 6 + [False] * 4),
        ledger("BC", "T", 1, [True] * 4 + [False] * 6),
    ])
    cell = table.cells[("T", "BC")]
    assert (cell.successes, cell.n, cell.seeds) == (10, 20, (0, 1))
    assert round(cell.mean) == 50 and round(cell.std) == 10


def test_aborted_rollouts_are_not_counted():
    led = ledger("BC", "T", 0, [True, False, None])
    assert led.summary() == {"successes": 1, "n": 2, "aborted": 1, "success_rate": 0.5,
                             "wilson95": [0.0945, 0.9055]}


def test_success_bars_with_wilson_whiskers(tmp_path):
    import cv2
    import pytest

    from vipflow.plots import plot_success_bars, success_bars

    table = comparison_table([
        ledger("VIP-RWR", "CloseDrawer", 0, [True] * 10),
        ledger("VIP-BC", "CloseDrawer", 0, [True] * 5 + [False] * 5),
        ledger("VIP-RWR", "PushBottle", 0, [True] * 9 + [False]),
    ])
    bars = {(b.task, b.policy): b for b in success_bars(table)}
    assert set(bars) == {("CloseDrawer", "VIP-RWR"), ("CloseDrawer", "VIP-BC"), ("PushBottle", "VIP-RWR")}
    b = bars[("PushBottle", "VIP-RWR")]
    assert b.mean == 90.0 and b.n == 10 and b.wilson == pytest.approx((59.58, 98.21), abs=0.01)
    assert bars[("CloseDrawer", "VIP-RWR")].wilson[1] == 100.0  # honest at 10/10
    drawer = bars[("CloseDrawer", "VIP-RWR")].x, bars[("CloseDrawer", "VIP-BC")].x
    assert -0.5 < drawer[0] < drawer[1] < 0.5 < b.x < 1.5  # grouped by task, policies side by side
    png = cv2.imread(str(plot_success_bars(table, tmp_path / "bars.png")))
    assert png is not None and png.shape[1] > 500


def test_exact_mcnemar_is_the_two_sided_binomial_test_on_discordant_pairs():
    stats = pytest.importorskip("scipy.stats")
    assert mcnemar_exact(0, 6) == pytest.approx(0.03125)  # 2 * 0.5**6
    assert mcnemar_exact(5, 5) == 1.0 and mcnemar_exact(0, 0) == 1.0
    for b, c in ((1, 9), (3, 8), (7, 2), (0, 12), (10, 25)):
        assert mcnemar_exact(b, c) == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-9)


def test_paired_differences_use_rollouts_from_the_same_starts(tmp_path):
    rwr = [ledger("RWR", "T", s, [True] * 8 + [False] * 2, sim=True) for s in (0, 1)]
    bc = [ledger("BC", "T", s, [True] * 2 + [False] * 8, sim=True) for s in (0, 1)]
    loose = ledger("R3M", "T", 0, [True] * 10)  # no start recorded: in the success table, never paired
    table = comparison_table([*rwr, *bc, loose])
    (diff,) = table.paired
    assert (diff.a, diff.b, diff.pairs, diff.a_only, diff.b_only) == ("RWR", "BC", 20, 12, 0)
    assert diff.diff == pytest.approx(60.0) and diff.p_value == pytest.approx(2 * 0.5**12)
    md = table.to_markdown()
    assert "| T | RWR − BC | 20 | 12 / 0 | +60 | 0.000488 |" in md and "McNemar" in md
    # a baseline restricts the comparisons; pairs are matched by start, not by position
    shifted = ledger("BC", "T", 0, [False] * 10, sim=True)
    shifted.rollouts = shifted.rollouts[5:]  # only starts 5..9
    (only,) = comparison_table([rwr[0], shifted], baseline="BC").paired
    assert (only.pairs, only.a_only, only.b_only) == (5, 3, 0)
    with pytest.raises(ValueError, match="baseline"):
        comparison_table([rwr[0]], baseline="BC")
    assert table.to_png(tmp_path / "t.png").stat().st_size > 1000
