"""A real Ctrl-C (SIGINT) or SIGTERM (kill, docker stop, a cluster's time limit) on a `vipflow train`
process: it finishes the step, checkpoints, says how to resume and exits 130 / 143. Before issue 12
SIGTERM killed the process without a checkpoint."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from vipflow.cli.main import main


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_checkpoints_and_the_run_resumes(progress_dataset, small_encoder_file, tmp_path, signum):
    run = tmp_path / "run"
    argv = [
        "train",
        str(progress_dataset),
        "--encoder",
        "vip",
        "--encoder-weights",
        str(small_encoder_file),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--hidden",
        "32,32",
        "--steps",
        "10000000",
        "--log-every",
        "10",
        "--eval-every",
        "1000",
        "--save-every",
        "1000000",
        "--no-progress",
        "--out",
        str(run),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "vipflow.cli.main", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        metrics = run / "metrics.csv"
        while time.monotonic() < deadline and proc.poll() is None:
            if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:  # header + 2 rows
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, (out, err)
    assert "Traceback" not in err
    assert "resume with: vipflow train --resume" in out
    step = json.loads((run / "summary.json").read_text())["step"]
    assert step >= 20
    assert (run / "checkpoints/last").read_text().strip() == f"step_{step:08d}"

    assert main(["train", "--resume", str(run), "--steps", str(step + 10), "--no-progress"]) == 0
    assert json.loads((run / "summary.json").read_text())["step"] == step + 10
