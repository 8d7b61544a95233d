"""What every benchmark under bench/ records besides its numbers, and how it writes them.

Absolute times mean something only next to the machine they were measured on: the CPU model and
its instruction sets change between machines, and other developers' jobs share the cores, so a
report carries the load average at its start and end. Each benchmark takes :func:`machine` when
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
    }


def finished(start: dict) -> dict:
    """``start`` (from :func:`machine`) with the load average at the end of the run added."""
    return start | {"load_avg_end": list(os.getloadavg())}


def write_report(path: Path, report: dict) -> None:
    """Write ``report`` as indented JSON (parents created; never half a file) and say where."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}", flush=True)
