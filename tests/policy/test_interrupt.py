"""A real Ctrl-C (SIGINT) on a `vipflow train` process: it finishes the step, checkpoints, exits 130."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from vipflow.cli.main import main


def test_sigint_checkpoints_and_the_run_resumes(progress_dataset, small_encoder_file, tmp_path):
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
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "resume with: vipflow train --resume" in out
    step = json.loads((run / "summary.json").read_text())["step"]
    assert step >= 20
    assert (run / "checkpoints/last").read_text().strip() == f"step_{step:08d}"

    assert main(["train", "--resume", str(run), "--steps", str(step + 10), "--no-progress"]) == 0
    assert json.loads((run / "summary.json").read_text())["step"] == step + 10
