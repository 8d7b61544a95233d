"""DDP on 2 CPU processes (gloo) computes the same gradients as 1 process on the same global batch.

The VIP loss couples the whole batch (log-mean-exp, negatives' permutations) and the model has
BatchNorm, so this only holds because embeddings are gathered across ranks, the loss is scaled by
the world size and BN statistics are global (vipflow.encoder_training.distributed).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file
from torch.nn.parallel import DistributedDataParallel

from vipflow.encoder_training.cache import FrameCache
from vipflow.encoder_training.config import TrainConfig
from vipflow.encoder_training.dataset import SampleSpec, StepSampler, SubTrajectoryDataset, make_loader
from vipflow.encoder_training.distributed import DistEnv, current_env, synchronise_batchnorm
from vipflow.encoder_training.model import TrainModule, build_encoder
from vipflow.encoder_training.sources import array_sources
from vipflow.encoder_training.synthetic import drifting_square_videos
from vipflow.encoder_training.trainer import StepRunner

GLOBAL_BATCH = 8
STEP = 3  # any step: the data and the negatives' permutations are functions of (seed, step)
CASES = (("vip", torch.float64), ("lstd", torch.float64), ("vip", torch.float32))


def _gradients(objective: str, dtype: torch.dtype, env: DistEnv) -> dict[str, torch.Tensor]:
    """One training step's loss and parameter gradients, computed as the trainer computes them."""
    torch.set_num_threads(1)
    cfg = TrainConfig(
        objective=objective,
        arch="convnet-small",
        hidden_dim=8,
        image_size=24,
        batch_size=GLOBAL_BATCH,
        seed=5,
    )
    videos = drifting_square_videos(4, seed=9, size=24, min_travel=8)
    cache = FrameCache.in_memory(array_sources(videos), cfg.image_size)
    spec = SampleSpec(objective, cfg.image_size, "rctraj", seed=cfg.seed)
    sampler = StepSampler(STEP, STEP + 1, GLOBAL_BATCH, env.rank, env.world_size)
    loader = make_loader(SubTrajectoryDataset(cache, spec), sampler, num_workers=0, pin_memory=False)
    batch = next(iter(loader))
    assert batch["frames"].shape[0] == GLOBAL_BATCH // env.world_size

    encoder = build_encoder(cfg, env.device)
    encoder.module.to(dtype)
    synchronise_batchnorm(encoder.module, env)
    encoder.module.train()
    model = TrainModule(encoder)
    if env.distributed:
        model = DistributedDataParallel(model)
    runner = StepRunner(model, cfg.loss_config(), env, cfg.seed)
    terms = runner.loss_terms(batch, STEP)
    runner.backward(terms)
    grads = {n: p.grad.detach().contiguous() for n, p in encoder.module.named_parameters()}
    return grads | {"__loss__": terms["loss"].detach().reshape(1)}


def _key(objective: str, dtype: torch.dtype) -> str:
    return f"{objective}-{str(dtype).removeprefix('torch.')}"


def _worker(rank: int, world_size: int, init_file: str, out_file: str) -> None:
    os.environ["LOCAL_RANK"] = str(rank)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        env = current_env(torch.device("cpu"))
        out = {}
        for objective, dtype in CASES:
            grads = _gradients(objective, dtype, env)
            out |= {f"{_key(objective, dtype)}/{k}": v for k, v in grads.items()}
        if rank == 0:
            save_file(out, out_file)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_ddp_two_processes_match_one_process(tmp_path, monkeypatch) -> None:
    # spawned children unpickle _worker by this module's name; they inherit sys.path from here
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    out_file = tmp_path / "ddp_grads.safetensors"
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(out_file)), nprocs=2, join=True)
    ddp = load_file(out_file)

    for objective, dtype in CASES:
        case = _key(objective, dtype)
        single = _gradients(objective, dtype, DistEnv())
        scale = max(g.abs().max().item() for k, g in single.items() if k != "__loss__")
        assert scale > 1e-2, f"{case}: gradients too small for the comparison to mean anything"
        # float64: the same arithmetic up to rounding (measured ~4e-14). float32: summation order
        # over differently split batches moves the largest gradients by ~1.2e-5 of their scale
        atol = 1e-10 if dtype == torch.float64 else 5e-5 * scale
        for name, grad in single.items():
            label = f"{case} {name}"
            torch.testing.assert_close(
                ddp[f"{case}/{name}"], grad, rtol=0, atol=atol, msg=lambda m, w=label: f"{w}: {m}"
            )
