"""LIV end to end on the real CLIP RN50 towers (random init): texts flow from the data to the
InfoNCE and VIP-L terms, validation reports text-goal VOC, and the export loads with its text tower."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from vipflow.encoder_training import TrainingDataError, load_trained, train_encoder
from vipflow.encoder_training.synthetic import drifting_square_videos


@pytest.mark.slow
def test_liv_one_step_from_a_liv_manifest(tmp_path) -> None:
    import cv2

    torch.set_num_threads(2)
    videos = drifting_square_videos(2, seed=0, size=32, frames=4, min_travel=8)
    rows = [["directory", "text", "num_frames"]]
    for i, (video, text) in enumerate(zip(videos, ["open the drawer", "close the door"], strict=True)):
        folder = tmp_path / "data" / f"demo{i}"
        folder.mkdir(parents=True)
        for j, frame in enumerate(video):
            cv2.imwrite(str(folder / f"{j}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        rows.append([str(folder), text, len(video)])
    with (tmp_path / "data" / "manifest.csv").open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    with (tmp_path / "val.csv").open("w", newline="") as f:
        csv.writer(f).writerows(rows[:2])

    result = train_encoder(
        tmp_path / "data",
        val_videos=tmp_path / "val.csv",
        objective="liv",
        langweight=1.0,
        num_negatives=1,
        image_size=224,
        batch_size=2,
        steps=1,
        eval_every=1,
        num_workers=0,
        out_dir=str(tmp_path / "run"),
        progress=False,
    )
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"clip", "vip_i_value", "vip_i_td", "vip_i_negatives", "vip_l_td", "val_voc_text"} <= set(header)
    assert np.isfinite(result.final_metrics["val_voc_text"])
    encoder = load_trained(result)
    assert encoder.name == "liv" and encoder.similarity == "cosine"
    assert encoder.embed_text(["open the drawer"]).shape == (1, 1024)


def test_liv_without_texts_is_a_named_error(tmp_path) -> None:
    videos = drifting_square_videos(3, seed=0, size=24, frames=4, min_travel=8)
    with pytest.raises(TrainingDataError, match="needs a text per video"):
        train_encoder(videos, objective="liv", cache_dir="memory", out_dir=str(tmp_path), progress=False)
