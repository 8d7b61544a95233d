"""Acceptance: VIP training on drifting-square videos lifts held-out VOC from ~0 to >= 0.9,
and the exported encoder loads through the registry and reproduces that VOC."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vipflow.encoder_training import load_trained, train_encoder
from vipflow.encoder_training.synthetic import drifting_square_videos
from vipflow.metrics import voc
from vipflow.rewards import values


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_vip_training_raises_heldout_voc(tmp_path, one_thread) -> None:
    train = drifting_square_videos(32, seed=0)
    held_out = drifting_square_videos(8, seed=1)
    result = train_encoder(
        train,
        val_videos=held_out,
        objective="vip",
        arch="convnet-small",
        hidden_dim=16,
        image_size=32,
        batch_size=32,
        steps=300,
        lr=3e-3,
        lr_schedule="cosine",
        num_negatives=0,  # VIP's toy config; see docs/training.md on negatives with few videos
        augment="none",
        cache_dir="memory",
        num_workers=0,
        eval_every=300,
        out_dir=str(tmp_path / "run"),
        progress=False,
    )
    before = result.history[0]["val_voc"]
    after = result.final_metrics["val_voc"]
    assert result.history[0]["step"] == 0
    assert abs(before) < 0.3, f"an untrained encoder should rank these frames at about 0, got {before}"
    assert after >= 0.9, f"held-out VOC after training {after} (before {before})"

    encoder = load_trained(result)
    assert encoder.name == "vip" and encoder.arch == "convnet-small" and encoder.embed_dim == 16
    vocs = []
    for video in held_out:
        emb = encoder.embed_images(video)
        vocs.append(voc(values(emb, emb[-1], encoder.similarity)))
    assert np.mean(vocs) == pytest.approx(after, abs=1e-6)

    run = tmp_path / "run"
    assert (run / "training_curves.png").stat().st_size > 10_000
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"step", "loss", "value", "td", "l1", "l2", "val_voc", "val_bump_rate"} <= set(header)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 300 and summary["final"]["val_voc"] == pytest.approx(after)
