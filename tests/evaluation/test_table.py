"""The comparison table reproduces the VIP paper's cell convention and pools seeds."""

from __future__ import annotations

from vipflow.evaluation.ledger import Ledger, RolloutOutcome
from vipflow.evaluation.table import comparison_table


def ledger(name, task, seed, outcomes):
    rollouts = [RolloutOutcome(i, ok, "operator", 100, "completed", None) for i, ok in enumerate(outcomes)]
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
