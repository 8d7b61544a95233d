"""Mixed precision: bf16 autocast gives an fp32 loss close to the fp32 one; fp16 needs CUDA."""

from __future__ import annotations

import pytest
import torch

from vipflow.encoder_training import TrainConfig, TrainingConfigError
from vipflow.encoder_training.cache import FrameCache
from vipflow.encoder_training.dataset import SampleSpec, StepSampler, SubTrajectoryDataset, make_loader
from vipflow.encoder_training.distributed import DistEnv
from vipflow.encoder_training.model import TrainModule, build_encoder
from vipflow.encoder_training.sources import array_sources
from vipflow.encoder_training.synthetic import drifting_square_videos
from vipflow.encoder_training.trainer import StepRunner, amp_dtype


def test_bf16_autocast_step_matches_fp32() -> None:
    cfg = TrainConfig(arch="convnet-small", hidden_dim=16, image_size=32, batch_size=8)
    cache = FrameCache.in_memory(array_sources(drifting_square_videos(4, seed=0)), 32)
    loader = make_loader(SubTrajectoryDataset(cache, SampleSpec("vip", 32)), StepSampler(0, 1, 8), 0, False)
    batch = next(iter(loader))
    encoder = build_encoder(cfg, torch.device("cpu"))
    encoder.module.eval()  # same BN statistics in both passes
    losses = {}
    for dtype in (None, torch.bfloat16):
        runner = StepRunner(TrainModule(encoder), cfg.loss_config(), DistEnv(), cfg.seed, dtype)
        terms = runner.loss_terms(batch, 0)
        encoder.module.zero_grad()
        runner.backward(terms)
        assert terms["loss"].dtype == torch.float32
        assert all(torch.isfinite(p.grad).all() for p in encoder.module.parameters())
        losses[dtype] = terms["loss"].item()
    assert losses[torch.bfloat16] == pytest.approx(losses[None], rel=0.05)


def test_amp_modes() -> None:
    cpu = torch.device("cpu")
    assert amp_dtype("auto", cpu) is None and amp_dtype("off", cpu) is None
    assert amp_dtype("bf16", cpu) == torch.bfloat16
    with pytest.raises(TrainingConfigError, match="CUDA"):
        amp_dtype("fp16", cpu)
