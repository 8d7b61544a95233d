"""bench/paper as a real process: the paper.json schema, resuming without redoing work, and a
signal during training ending the run instead of moving on to the next method."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.image

from vipflow.encoders.inference import ISA_FLAGS

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "paper" / "run.py"
ROW_KEYS = {
    "task", "encoder", "method", "success_mean", "success_lo", "success_hi", "vs_bc_diff", "vs_bc_lo",
    "vs_bc_hi", "seeds", "rollouts_per_seed",
}  # fmt: skip
MACHINE_KEYS = {
    "cpu_model", "cpus", "cpu_flags", "python", "platform", "torch", "load_avg_start", "load_avg_end",
    "cpu_time_shares",
}  # fmt: skip


def _cmd(work: Path, *extra: str) -> list[str]:
    return [
        sys.executable, str(SCRIPT), "--tasks", "slide_cabinet", "--encoders", "sim-pretrained",
        "--experts", "2", "--failures", "1", "--no-reward-quality", "--work", str(work),
        "--out", str(work / "paper.json"), *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return os.environ | {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def test_paper_json_schema_and_resume(tmp_path):
    work = tmp_path / "work"
    cmd = _cmd(work, "--seeds", "0-1", "--methods", "bc", "rwr", "--rollouts", "2", "--policy-steps", "30")
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    paper = json.loads((work / "paper.json").read_text())
    assert set(paper) == {"rows", "reward_quality"}
    rows = {r["method"]: r for r in paper["rows"]}
    assert set(rows) == {"bc", "rwr"}
    for r in rows.values():
        assert set(r) == ROW_KEYS
        assert (r["task"], r["encoder"], r["seeds"], r["rollouts_per_seed"]) == (
            "slide_cabinet", "sim-pretrained", 2, 2,
        )  # fmt: skip
        assert 0 <= r["success_lo"] <= r["success_mean"] <= r["success_hi"] <= 100
    assert rows["bc"]["vs_bc_diff"] is None and rows["bc"]["vs_bc_lo"] is None
    assert rows["rwr"]["vs_bc_diff"] == rows["rwr"]["success_mean"] - rows["bc"]["success_mean"]
    details = json.loads((work / "paper_details.json").read_text())
    sessions = sorted(work.glob("slide_cabinet/seed*/sim-pretrained/evaluation-*/session.json"))
    assert len(sessions) == 2 and all(json.loads(s.read_text())["trials_planned"] == 2 for s in sessions)
    assert {c["method"] for c in details["cells"]} == {"bc", "rwr"}
    machine = details["machine"]  # what every benchmark records (vipflow.benchmark)
    assert set(machine) == MACHINE_KEYS and set(machine["cpu_flags"]) <= set(ISA_FLAGS)
    assert len(machine["load_avg_start"]) == len(machine["load_avg_end"]) == 3
    figure = matplotlib.image.imread(work / "paper.png")  # one encoder: success and difference panels
    assert figure.shape[0] > 300 and figure.shape[1] > 1000

    # run again: everything is found finished; nothing is recorded, trained or evaluated again
    stamps = {p: p.stat().st_mtime_ns for p in work.rglob("*") if p.is_file() and "paper" not in p.name}
    again = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    rewritten = {"timing.json", ".lock"}  # the stage times and the shards' lock file
    changed = [p for p, t in stamps.items() if p.stat().st_mtime_ns != t and p.name not in rewritten]
    assert changed == []


def test_a_signal_during_training_ends_the_run(tmp_path):
    """Before the fix the bench swallowed the trainer's graceful stop and trained the next method."""
    work = tmp_path / "work"
    cmd = _cmd(work, "--seeds", "0", "--methods", "bc", "rwr", "--policy-steps", "10000000")
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        metrics = work / "slide_cabinet" / "seed0" / "sim-pretrained" / "policies" / "bc" / "metrics.csv"
        deadline = time.monotonic() + 600
        while not metrics.is_file():  # created just before the training loop
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-2000:]
            time.sleep(0.5)
        time.sleep(2)  # inside the loop: the trainer's graceful stop, not the script's handler
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # before the fix it went on training the next method
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "SIGTERM" in err
    assert not (metrics.parent.parent / "rwr").exists()  # the next method never started
    summary = json.loads((metrics.parent / "summary.json").read_text())
    assert 0 < summary["step"] < 10_000_000  # the checkpoint to resume from
