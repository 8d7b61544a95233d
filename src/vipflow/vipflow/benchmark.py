"""What every benchmark under bench/ records besides its numbers, and how it writes them.

Absolute times mean something only next to the machine they were measured on: the CPU model and
its instruction sets change between machines, and other developers' jobs share the cores, so a
report carries the load average at its start and end and how the CPUs' time was spent meanwhile,
including the share a virtual machine's hypervisor gave to other guests (steal): on a shared
host a run's ratios can move by tens of percent with it. Each benchmark takes :func:`machine` when
it starts, puts :func:`finished` of it into its report, and writes the report with
:func:`write_report`.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch

from vipflow.durable import atomic_write_text
from vipflow.encoders.inference import cpu_model, isa_flags


def machine() -> dict:
    """The machine now: CPU model, cores, the instruction sets that decide inference speed
    (``ISA_FLAGS``), Python, platform, torch, and the load average (1, 5, 15 min) at the start."""
    return {
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "cpu_flags": sorted(isa_flags()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "load_avg_start": list(os.getloadavg()),
        "cpu_ticks_start": cpu_ticks(),
    }


def finished(start: dict) -> dict:
    """``start`` (from :func:`machine`) with the load average at the end of the run and the
    shares of the CPUs' time since the start (``cpu_time_shares``) in place of the raw counters."""
    report = {k: v for k, v in start.items() if k != "cpu_ticks_start"}
    return report | {
        "load_avg_end": list(os.getloadavg()),
        "cpu_time_shares": cpu_time_shares(start.get("cpu_ticks_start"), cpu_ticks()),
    }


_CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def cpu_ticks(stat: Path = Path("/proc/stat")) -> dict[str, int] | None:
    """All CPUs' time counters since boot (Linux ``/proc/stat``); None where there is none."""
    try:
        fields = stat.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if fields[:1] != ["cpu"] or len(fields) < 1 + len(_CPU_FIELDS):
        return None
    return dict(zip(_CPU_FIELDS, map(int, fields[1 : 1 + len(_CPU_FIELDS)]), strict=True))


def cpu_time_shares(start: dict[str, int] | None, end: dict[str, int] | None) -> dict[str, float] | None:
    """How the CPUs' time between two :func:`cpu_ticks` readings was spent: ``busy`` (user,
    nice, system, interrupts: this run and anything else on the machine), ``idle`` (also
    waiting for I/O) and ``steal`` (the hypervisor ran other guests on our virtual CPUs)."""
    if start is None or end is None:
        return None
    d = {k: end[k] - start[k] for k in _CPU_FIELDS}
    total = sum(d.values())
    if total <= 0:
        return None
    idle = d["idle"] + d["iowait"]
    return {"busy": (total - idle - d["steal"]) / total, "idle": idle / total, "steal": d["steal"] / total}


def write_report(path: Path, report: dict) -> None:
    """Write ``report`` as indented JSON (parents created; never half a file) and say where."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}", flush=True)
