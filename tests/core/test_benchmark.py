"""What every benchmark records about the machine: the CPUs' time shares, steal included."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from vipflow.benchmark import cpu_ticks, cpu_time_shares, finished, machine

# /proc/stat's first line: user nice system idle iowait irq softirq steal guest guest_nice
START = "cpu  1000 0 200 5000 100 0 0 50 0 0\ncpu0 500 0 100 2500 50 0 0 25 0 0\n"
END = "cpu  1600 0 300 5300 100 0 0 350 0 0\ncpu0 800 0 150 2650 50 0 0 175 0 0\n"


def test_shares_of_a_run_on_a_shared_host(tmp_path: Path) -> None:
    (tmp_path / "start").write_text(START)
    (tmp_path / "end").write_text(END)
    start, end = cpu_ticks(tmp_path / "start"), cpu_ticks(tmp_path / "end")
    assert start is not None and start["steal"] == 50 and start["idle"] == 5000
    shares = cpu_time_shares(start, end)
    # 1300 ticks passed: 700 busy (600 user + 100 system), 300 idle, 300 stolen by the hypervisor
    assert shares == pytest.approx({"busy": 700 / 1300, "idle": 300 / 1300, "steal": 300 / 1300})


@pytest.mark.parametrize("text", ["", "intr 1 2 3\n", "cpu  1 2 3\n"])
def test_no_counters_where_the_file_has_none(tmp_path: Path, text: str) -> None:
    (tmp_path / "stat").write_text(text)
    assert cpu_ticks(tmp_path / "stat") is None
    assert cpu_ticks(tmp_path / "missing") is None
    assert cpu_time_shares(None, cpu_ticks(Path("/proc/stat"))) is None


def test_a_report_carries_shares_not_raw_counters() -> None:
    start = machine()
    t = time.perf_counter()
    while time.perf_counter() - t < 0.1:  # 10 clock ticks of work at Linux's 100 Hz counters
        pass
    report = finished(start)
    assert "cpu_ticks_start" not in report and len(report["load_avg_end"]) == 3
    if Path("/proc/stat").is_file():
        shares = report["cpu_time_shares"]
        assert sum(shares.values()) == pytest.approx(1.0) and shares["busy"] > 0
