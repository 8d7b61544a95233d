"""Issue 12 findings 2 and 7: run folders are closed, and a failed resume writes nothing.

``checkpoints/last`` is followed only to a checkpoint folder inside its run: a path (``..``, an
absolute path), a symlink leading out, a symlink loop or a folder in its place is a one-line named
error for ``evaluate run``, ``train --resume`` and ``load_policy`` alike, and a refused resume leaves
``config.json``, ``metrics.csv`` and the checkpoints byte for byte as they were.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from vipflow.cli.main import main
from vipflow.policy import CheckpointError, load_policy


def _train(run: Path, dataset: Path, weights: Path, cache: Path, seed: int) -> None:
    argv = [
        "train", str(dataset), "--encoder-weights", str(weights), "--cache-dir", str(cache),
        "--hidden", "16,16", "--steps", "20", "--save-every", "10", "--eval-every", "10",
        "--log-every", "10", "--seed", str(seed), "--no-progress", "--out", str(run),
    ]  # fmt: skip
    assert main(argv) == 0


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, progress_dataset, small_encoder_file) -> Path:
    """A finished run and, beside it, another run's checkpoint that loads fine (the 'evil' policy)."""
    root = tmp_path_factory.mktemp("runs")
    cache = root / "cache"
    _train(root / "a" / "b" / "run", progress_dataset, small_encoder_file, cache, seed=0)
    _train(root / "other", progress_dataset, small_encoder_file, cache, seed=1)
    shutil.copytree(root / "other" / "checkpoints" / "step_00000020", root / "a" / "evil_policy")
    shutil.rmtree(root / "other")
    return root


@pytest.fixture
def runs(pristine, tmp_path) -> Path:
    shutil.copytree(pristine, tmp_path / "runs", symlinks=True)
    return tmp_path / "runs"


def _tamper(runs: Path, how: str) -> Path:
    """Point ``last`` of runs/a/b/run somewhere it must never lead; the pointer's path."""
    pointer = runs / "a" / "b" / "run" / "checkpoints" / "last"
    evil = runs / "a" / "evil_policy"
    pointer.unlink()
    if how == "dotdot":
        pointer.write_text("../../../evil_policy\n")
    elif how == "absolute":
        pointer.write_text(str(evil.absolute()) + "\n")
    elif how == "symlinked-step":
        os.symlink(evil, pointer.parent / "step_99999999")
        pointer.write_text("step_99999999\n")
    elif how == "loop":
        os.symlink("last", pointer)
    elif how == "folder":
        pointer.mkdir()
    return pointer


def _snapshot(run: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(run)): p.read_bytes()
        for p in sorted(run.rglob("*"))
        if p.is_file() and not p.is_symlink() and "checkpoints/last" not in str(p)
    }


def _error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, lines
    return lines[0]


HOW = ("dotdot", "absolute", "symlinked-step", "loop", "folder")


@pytest.mark.parametrize("how", HOW)
def test_a_pointer_leaving_the_run_is_never_followed(runs, how, small_encoder_file, capsys):
    run = runs / "a" / "b" / "run"
    pointer = _tamper(runs, how)
    with pytest.raises(CheckpointError, match="checkpoints/last"):
        load_policy(run)
    before = _snapshot(run)

    assert main(["train", "--resume", str(run), "--steps", "30", "--no-progress"]) == 2
    assert _error_line(capsys).startswith(f"error: {pointer}")  # one line naming the pointer
    assert _snapshot(run) == before  # config.json, metrics.csv and checkpoints untouched

    code = main([
        "evaluate", "run", "--policy", str(run), "--backend", "franky", "--task", "push",
        "--encoder-weights", str(small_encoder_file), "--no-rewards", "--out", str(runs / "results"),
    ])  # fmt: skip
    assert code == 2
    assert _error_line(capsys).startswith(f"error: {pointer}")
    assert not (runs / "results").exists()


def test_a_failed_resume_writes_nothing(runs, capsys):
    run = runs / "a" / "b" / "run"
    state = run / "checkpoints" / "step_00000020" / "training_state.safetensors"
    state.write_bytes(state.read_bytes()[:100])  # truncated: the resume must fail while loading
    before = _snapshot(run)
    assert main(["train", "--resume", str(run), "--steps", "30", "--no-progress"]) == 2
    assert "truncated or corrupt" in capsys.readouterr().err
    assert _snapshot(run) == before  # config.json still says 20 steps; metrics.csv not truncated


def test_the_run_still_resumes_through_a_sound_pointer(runs, capsys):
    run = runs / "a" / "b" / "run"
    (run / "checkpoints" / "last").write_text("step_00000010\n")  # back to the earlier checkpoint
    assert main(["train", "--resume", str(run), "--steps", "30", "--no-progress"]) == 0
    assert load_policy(run).path.name == "step_00000030"
