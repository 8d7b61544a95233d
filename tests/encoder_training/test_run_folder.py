"""Issue 12 findings 2 and 7 for encoder runs: the ``last`` pointer stays inside its run folder and
a refused ``train-encoder --resume`` writes nothing (the same run-folder code as policy runs)."""

from __future__ import annotations

import os
import shutil

import pytest

from vipflow.cli.main import main
from vipflow.encoder_training import CheckpointError, train_encoder
from vipflow.encoder_training.checkpoint import load_checkpoint
from vipflow.encoder_training.synthetic import drifting_square_videos

VIDEOS = drifting_square_videos(4, seed=3, size=24, frames=6, min_travel=8)
TINY = dict(
    objective="vip", arch="convnet-small", hidden_dim=8, image_size=24, batch_size=4, lr=1e-3,
    cache_dir="memory", num_workers=0, eval_every=0, checkpoint_every=1, progress=False,
    val_fraction=0.0, keep_checkpoints=5,
)  # fmt: skip


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("encoder_runs")
    train_encoder(VIDEOS, steps=2, out_dir=str(root / "run"), **TINY)
    train_encoder(VIDEOS, steps=1, out_dir=str(root / "other"), seed=5, **TINY)
    shutil.copytree(root / "other" / "checkpoints" / "step_00000001", root / "evil")
    shutil.rmtree(root / "other")
    return root


@pytest.mark.parametrize("how", ["dotdot", "absolute", "loop", "folder"])
def test_resume_never_follows_a_pointer_out_of_the_run(pristine, tmp_path, how, capsys):
    shutil.copytree(pristine, tmp_path / "r")
    run = tmp_path / "r" / "run"
    pointer = run / "checkpoints" / "last"
    pointer.unlink()
    if how == "dotdot":
        pointer.write_text("../../evil")
    elif how == "absolute":
        pointer.write_text(str(tmp_path / "r" / "evil"))
    elif how == "loop":
        os.symlink("last", pointer)
    else:
        pointer.mkdir()
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(CheckpointError, match="checkpoints/last"):
        load_checkpoint(run)
    assert main(["train-encoder", "--resume", str(run), "--steps", "4", "--no-progress"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {pointer}")
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
