"""Issue 12, finding 6: SIGINT and SIGTERM are handled alike by every long command.

Real processes, real signals: each command stops at a consistent point, keeps (and names) what
it finished, and exits 130 (SIGINT) / 143 (SIGTERM) without a traceback. Before the fix SIGTERM
killed `train` without a checkpoint, Ctrl-C during `demo` training went on to compare a
half-trained RWR policy against a fully trained BC and exited 0, and Ctrl-C while `demo`
recorded ended in a KeyboardInterrupt traceback. (`train` itself: tests/policy/test_interrupt.py.)
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vipflow.episodes import list_episodes

PY = [sys.executable, "-m", "vipflow.cli.main"]


def _start(argv: list[str], **kw) -> subprocess.Popen:
    kw.setdefault("stdout", subprocess.PIPE)
    return subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, **kw)


def _wait_for(proc: subprocess.Popen, ready, timeout: float = 240.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"exited {proc.returncode} before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen, signum: int, timeout: float = 120.0) -> tuple[str, str]:
    proc.send_signal(signum)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, (proc.returncode, out, err)
    assert "Traceback" not in err, err
    return out or "", err


def test_script_entry_point_reports_what_was_kept():
    """bench/* scripts end through vipflow.interrupt.run_script."""
    code = ("import time; from vipflow.interrupt import run_script; "
            "run_script(lambda: time.sleep(60), 'kept: X')")
    for signum in (signal.SIGINT, signal.SIGTERM):
        proc = _start([sys.executable, "-c", code])
        time.sleep(1.5)  # imported, sleeping
        _, err = _stop(proc, signum, timeout=30)
        assert f"{signal.Signals(signum).name}: interrupted; kept: X" in err


def test_bench_script_sigterm(tmp_path):
    """A real bench script: SIGTERM while it measures ends it with 143 and one line."""
    work = tmp_path / "tmp"
    work.mkdir()
    proc = _start([sys.executable, "bench/train/run.py", "--quick", "--episodes", "2", "--out",
                   str(tmp_path / "train.json")], cwd=Path(__file__).parents[2],
                  env={**os.environ, "TMPDIR": str(work)})
    def working() -> bool:  # main() made its temporary dataset folder
        return any(p.name.startswith("tmp") for p in work.iterdir())

    _wait_for(proc, working, 120, "the benchmark's work folder")
    time.sleep(1)
    _, err = _stop(proc, signal.SIGTERM)
    assert "SIGTERM: interrupted; no report written" in err
    assert not (tmp_path / "train.json").exists()


def test_record_keeps_the_episode_on_sigterm(tmp_path):
    dataset = tmp_path / "dataset"
    master, slave = pty.openpty()  # the recorder reads keys from a terminal
    try:
        proc = _start([*PY, "record", "--dataset", str(dataset), "--task", "t", "--episodes", "2",
                       "--episode-time", "60", "--source", "fake", "--robot", "fake", "--width", "64",
                       "--height", "48", "--state-rate", "50"], stdin=slave)
        def started() -> bool:  # press space until the session (in cbreak mode) takes it
            os.write(master, b" ")
            return (dataset / ".partial" / "episode_0000").exists()

        _wait_for(proc, started, 120, "recording")
        time.sleep(2.5)  # > the writer's flush interval
        _, err = _stop(proc, signal.SIGTERM)
    finally:
        os.close(master)
        os.close(slave)
    assert "SIGTERM: recording stopped; 1 episode(s) kept" in err
    (s,) = list_episodes(dataset)
    assert s.name == "episode_0000" and s.status == "incomplete" and s.counts["camera"] > 10


@pytest.fixture(scope="module")
def sim_policy(tmp_path_factory):
    import warnings

    from vipflow.encoders import load_encoder, save_encoder
    from vipflow.policy.untrained import untrained_policy

    root = tmp_path_factory.mktemp("eval")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoder = load_encoder("vip", arch="convnet-small", random_init=True)
    weights = save_encoder(encoder, root / "enc.safetensors")
    untrained_policy(encoder, root / "policy")
    return root / "policy", weights


@pytest.mark.slow
def test_evaluate_run_sigterm_keeps_the_judged_rollouts(sim_policy, tmp_path):
    policy, weights = sim_policy
    out = tmp_path / "results"
    proc = _start([*PY, "evaluate", "run", "--policy", str(policy), "--backend", "sim", "--task",
                   "slide_cabinet", "--rollouts", "3", "--horizon", "100000", "--image-size", "64",
                   "--encoder-weights", str(weights), "--no-rewards", "--out", str(out),
                   "--rt-priority", "0"])
    first = out / "episodes" / ".partial" / "rollout_000"
    _wait_for(proc, first.exists, 240, "the first rollout")
    time.sleep(3)
    _, err = _stop(proc, signal.SIGTERM)
    assert "SIGTERM: evaluation stopped early" in err
    ledger = json.loads((out / "ledger.json").read_text())
    assert [r["judged_by"] for r in ledger["rollouts"]] == ["aborted"]
    assert list_episodes(out / "episodes")[0].name == "rollout_000"


@pytest.mark.slow
def test_train_encoder_sigterm_checkpoints_and_resumes(tmp_path):
    from vipflow.encoder_training.checkpoint import load_checkpoint
    from vipflow.encoder_training.synthetic import drifting_square_videos
    from vipflow.video import write_video

    for i, video in enumerate(drifting_square_videos(4, seed=2, size=24, frames=6, min_travel=8)):
        write_video(tmp_path / f"clip{i}.mp4", video, fps=10)
    run = tmp_path / "run"
    proc = _start([*PY, "train-encoder", str(tmp_path), "--steps", "1000000", "--out", str(run),
                   "--encoder-arch", "convnet-small", "--hidden-dim", "8", "--image-size", "24",
                   "--batch-size", "4",
                   "--num-workers", "0", "--eval-every", "0", "--log-every", "5",
                   "--checkpoint-every", "1000000",
                   "--val-fraction", "0", "--no-progress"])
    metrics = run / "metrics.csv"
    _wait_for(proc, lambda: metrics.exists() and len(metrics.read_text().splitlines()) >= 3, 240, "training")
    _, err = _stop(proc, signal.SIGTERM)
    step = load_checkpoint(run).step
    assert step >= 10 and f"stopped at step {step}; checkpoint kept" in err and "--resume" in err
    assert not (run / "encoder.safetensors").exists()  # no export of an unfinished encoder
    from vipflow.cli.main import main

    assert main(["train-encoder", "--resume", str(run), "--steps", str(step + 2), "--no-progress"]) == 0
    assert load_checkpoint(run).step == step + 2


def _demo(tmp_path, *extra):
    out = tmp_path / "demo"
    argv = [*PY, "demo", "--out", str(out), "--experts", "2", "--failures", "1", "--rollouts", "1",
            "--horizon", "10", "--no-progress", *extra]
    return out, _start(argv, env={**os.environ, "PYTHONUNBUFFERED": "1"})


@pytest.mark.slow
def test_demo_sigint_while_recording_is_one_line(tmp_path):
    out, proc = _demo(tmp_path)
    _wait_for(proc, (out / "demos" / ".partial").exists, 300, "recording")
    time.sleep(1)
    printed, err = _stop(proc, signal.SIGINT)
    assert "SIGINT: demo interrupted, so there is no success table" in err
    assert "[2/5] recording" in printed and "[3/5]" not in printed and "| slide_cabinet |" not in printed
    assert all(s.status in ("ok", "incomplete") for s in list_episodes(out / "demos"))  # nothing half-written


@pytest.mark.slow
def test_demo_sigint_while_training_never_reports_a_table(tmp_path):
    out, proc = _demo(tmp_path, "--steps", "1000000")
    _wait_for(proc, (out / "policies" / "rwr" / "seed0" / "metrics.csv").exists, 400, "training")
    printed, err = _stop(proc, signal.SIGINT)
    assert "[4/5] training" in printed
    assert "[5/5]" not in printed and "| slide_cabinet |" not in printed
    assert "train loss" not in printed  # no policy reported as trained
    assert "no success table" in err and "policy rwr seed0: checkpoint at step" in err
    assert f"vipflow demo --out {out} --resume" in err
    assert not (out / "report.md").exists() and not (out / "policies" / "bc").exists()
    summary = json.loads((out / "policies" / "rwr" / "seed0" / "summary.json").read_text())
    assert summary["interrupted"] and 0 < summary["step"] < 1_000_000
    assert np.isfinite(summary["train_loss"] or 0.0)
