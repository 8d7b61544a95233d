"""Checkpoints: safetensors + JSON round trip, exact resume, and named errors."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from vipflow.encoder_training import CheckpointError, NonFiniteLossError, TrainConfig, train_encoder
from vipflow.encoder_training.checkpoint import (
    join_tensors,
    load_checkpoint,
    rng_state,
    set_rng_state,
    split_tensors,
)
from vipflow.encoder_training.synthetic import drifting_square_videos
from vipflow.encoders import CheckpointValueError
from vipflow.encoders.encoder import load_encoder, save_encoder

VIDEOS = drifting_square_videos(6, seed=3, size=24, frames=8, min_travel=8)


def tiny(out_dir, **overrides) -> dict:
    opts = dict(
        objective="vip",
        arch="convnet-small",
        hidden_dim=8,
        image_size=24,
        batch_size=4,
        steps=6,
        lr=1e-3,
        cache_dir="memory",
        num_workers=0,
        eval_every=0,
        checkpoint_every=3,
        out_dir=str(out_dir),
        progress=False,
        val_fraction=0.0,
    )
    return opts | overrides


def test_nested_state_round_trips_through_json_and_tensors() -> None:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    state = {"optimizer": opt.state_dict(), "rng": rng_state(), "scaler": None}
    tensors: dict[str, torch.Tensor] = {}
    skeleton = json.loads(json.dumps(split_tensors(state, "s", tensors)))
    back = join_tensors(skeleton, tensors)
    assert back["optimizer"]["param_groups"] == opt.state_dict()["param_groups"]
    assert set(back["optimizer"]["state"]) == {0, 1}  # int keys survive JSON
    torch.testing.assert_close(
        back["optimizer"]["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"]
    )
    drawn = (torch.rand(3), np.random.rand(3), random.random())  # after the capture
    set_rng_state(back["rng"])
    assert torch.equal(drawn[0], torch.rand(3)) and np.array_equal(drawn[1], np.random.rand(3))
    assert drawn[2] == random.random()


@pytest.mark.slow
def test_resume_reproduces_the_uninterrupted_run_exactly(tmp_path) -> None:
    straight = train_encoder(VIDEOS, **tiny(tmp_path / "straight"))
    train_encoder(VIDEOS, **tiny(tmp_path / "resumed", steps=3))
    resumed = train_encoder(
        VIDEOS, resume=tmp_path / "resumed", **tiny(tmp_path / "resumed", num_workers=2, steps=6)
    )
    a, b = load_file(straight.encoder_path), load_file(resumed.encoder_path)
    assert set(a) == set(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    ckpt = load_checkpoint(tmp_path / "resumed")
    assert ckpt.step == 6 and ckpt.optimizer["state"][0]["exp_avg"].abs().sum() > 0
    steps = [
        int(line.split(",")[0])
        for line in (tmp_path / "resumed" / "metrics.csv").read_text().splitlines()[1:]
    ]
    assert steps == sorted(steps) and steps[-1] == 6


def test_resume_with_different_options_is_refused(tmp_path) -> None:
    train_encoder(VIDEOS, **tiny(tmp_path / "run", steps=2, checkpoint_every=0))
    with pytest.raises(CheckpointError, match=r"lr: checkpoint 0\.001, now 0\.01"):
        train_encoder(VIDEOS, resume=tmp_path / "run", **tiny(tmp_path / "run", steps=4, lr=1e-2))


def test_corrupt_or_missing_checkpoint_is_a_named_error(tmp_path) -> None:
    train_encoder(VIDEOS, **tiny(tmp_path / "run", steps=2, checkpoint_every=0))
    ckpt = load_checkpoint(tmp_path / "run")
    (tmp_path / "run" / "checkpoints" / f"step_{ckpt.step:08d}" / "optimizer.safetensors").write_bytes(
        b"garbage"
    )
    with pytest.raises(CheckpointError, match="incomplete or corrupt"):
        load_checkpoint(tmp_path / "run")
    with pytest.raises(CheckpointError, match="no training checkpoint"):
        load_checkpoint(tmp_path / "elsewhere")


def test_nan_weights_stop_training_with_a_named_error(tmp_path) -> None:
    with pytest.warns(UserWarning, match="random weights"):
        encoder = load_encoder("vip", arch="convnet-small", hidden_dim=8, random_init=True)
    with torch.no_grad():
        encoder.module.convnet.fc.weight.fill_(float("nan"))
    path = save_encoder(encoder, tmp_path / "nan.safetensors")
    with pytest.raises(CheckpointValueError, match=r"nan\.safetensors"):  # refused before training starts
        train_encoder(VIDEOS, **tiny(tmp_path / "run", init_weights=str(path)))
    # finite but enormous initial weights overflow the loss at once: a named error, no checkpoint
    with torch.no_grad():
        encoder.module.convnet.fc.weight.fill_(1e30)
    huge = save_encoder(encoder, tmp_path / "huge.safetensors")
    with pytest.raises(NonFiniteLossError, match=r"loss is (nan|inf) at step 0.*last good checkpoint"):
        train_encoder(VIDEOS, **tiny(tmp_path / "diverge", init_weights=str(huge), checkpoint_every=1))
    assert not (tmp_path / "diverge" / "checkpoints").exists() or not list(
        (tmp_path / "diverge" / "checkpoints").glob("step_*")
    )


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=1)
    with pytest.raises(ValueError, match="text tower"):
        TrainConfig(objective="liv", encoder="vip")
    assert TrainConfig(objective="liv").lr == 1e-5 and TrainConfig(objective="liv").betas == (0.9, 0.98)
    assert TrainConfig().num_negatives == 3 and TrainConfig(objective="liv").num_negatives == 0
