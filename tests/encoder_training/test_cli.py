"""`vipflow train-encoder` on real mp4 files: train, resume from the run folder, named errors."""

from __future__ import annotations

from vipflow.cli.main import main
from vipflow.encoder_training.checkpoint import load_checkpoint
from vipflow.encoder_training.synthetic import drifting_square_videos
from vipflow.video import write_video

TINY = [
    "--arch", "convnet-small", "--hidden-dim", "8", "--image-size", "24", "--batch-size", "4",
    "--num-workers", "0", "--eval-every", "3", "--val-fraction", "0.25", "--no-progress",
]  # fmt: skip


def test_train_then_resume_from_the_run_folder(tmp_path, capsys) -> None:
    for i, video in enumerate(drifting_square_videos(4, seed=2, size=24, frames=6, min_travel=8)):
        write_video(tmp_path / f"clip{i}.mp4", video, fps=10)
    run = tmp_path / "run"
    assert main(["train-encoder", str(tmp_path), "--steps", "3", "--out", str(run), *TINY]) == 0
    out = capsys.readouterr().out
    assert "held-out VOC" in out and f"--encoder-weights {run / 'encoder.safetensors'}" in out
    assert (run / "training_curves.png").is_file() and (
        run / "frame_cache" / "train" / "index.json"
    ).is_file()

    # --resume needs neither the data nor the options again
    assert main(["train-encoder", "--resume", str(run), "--steps", "5", "--no-progress"]) == 0
    assert load_checkpoint(run).step == 5
    assert main(["train-encoder", "--resume", str(run), "--steps", "6", "--lr", "0.5"]) == 2
    assert "lr: checkpoint 0.0001, now 0.5" in capsys.readouterr().err


def test_bad_data_is_reported_without_a_traceback(tmp_path, capsys) -> None:
    assert main(["train-encoder", str(tmp_path / "missing"), "--out", str(tmp_path / "run")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    args = ["train-encoder", str(tmp_path / "broken.mp4"), "--out", str(tmp_path / "run"), *TINY]
    assert main(args) == 2
    assert "broken.mp4" in capsys.readouterr().err
