"""DistributedDataParallel plumbing, so one entry point runs on 1 CPU, 1 GPU, or many under torchrun.

The VIP/LIV losses are not sums over samples: log-mean-exp, the negatives' permutation and
InfoNCE all couple the whole batch. Averaging per-rank losses (what plain DDP does) would train
a different objective for every world size. Instead each rank gathers every rank's embeddings
(its own keep their autograd graph), evaluates the loss on the *global* batch, and scales it by
the world size, so DDP's gradient averaging yields exactly the single-process gradient. Batch
norm statistics are made global the same way (``SyncBatchNorm`` on CUDA, :class:`GlobalBatchNorm`
on CPU/gloo, where torch's SyncBatchNorm is unavailable).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn

from vipflow.encoder_training.errors import TrainingConfigError


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> the local rank's GPU if CUDA is available, else CPU."""
    if device == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    if device == "cuda":
        return torch.device(f"cuda:{local_rank}")
    return torch.device(device)


def init_distributed(device: str = "auto") -> DistEnv:
    """Join the process group torchrun describes (``RANK``/``WORLD_SIZE``/``LOCAL_RANK``), or run
    single-process when those are absent. nccl on CUDA, gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return current_env(dev)


def current_env(device: torch.device) -> DistEnv:
    """The env of an already-initialised process group (or single process)."""
    if dist.is_available() and dist.is_initialized():
        local_rank = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
        return DistEnv(dist.get_rank(), dist.get_world_size(), local_rank, device)
    return DistEnv(device=device)


def shutdown_distributed() -> None:
    """Leave the process group (end of a torchrun job); a no-op in a single process."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(env: DistEnv) -> None:
    if env.distributed:
        dist.barrier()


def agree_to_stop(requested: bool, env: DistEnv) -> bool:
    """True on every rank as soon as one rank was asked to stop (a signal reaches ranks at different
    steps; stopping at different steps would hang the next collective)."""
    if not env.distributed:
        return requested
    flag = torch.tensor([1.0 if requested else 0.0], device=env.device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def gather_with_grad(x: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """Concatenate every rank's ``x`` along dim 0, in rank order. Only this rank's slice carries
    gradient; pair with multiplying the loss by the world size (see the module docstring)."""
    if not env.distributed:
        return x
    parts = [torch.empty_like(x) for _ in range(env.world_size)]
    dist.all_gather(parts, x.detach().contiguous())
    parts[env.rank] = x
    return torch.cat(parts)


def gather_objects(values: list, env: DistEnv) -> list:
    """Concatenate small Python lists from every rank (e.g. sample metadata for logs)."""
    if not env.distributed:
        return values
    out: list = [None] * env.world_size
    dist.all_gather_object(out, values)
    return [v for part in out for v in part]


class _SumAcrossRanks(torch.autograd.Function):
    """all-reduce (sum) whose backward is again an all-reduce (sum) of the incoming gradients:
    each rank's input influences every rank's output."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        out = grad.clone()
        dist.all_reduce(out)
        return out


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics cover the batch of every rank (gloo / CPU).

    The sums behind mean and variance are all-reduced with an autograd-aware collective, so the
    forward and the gradients equal those of one process holding the whole batch.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.ndim < 2:
            raise ValueError(f"expected at least 2-D input (N, C, ...), got {x.ndim}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (
            self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        ):
            return super().forward(x)
        self._check_input_dim(x)
        out_dtype = x.dtype
        x = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        c = x.shape[1]
        shape = [1, c] + [1] * (x.ndim - 2)
        dims = [d for d in range(x.ndim) if d != 1]
        # two passes (mean, then centred squares) for the accuracy of a one-process batch norm
        count = x.new_tensor(float(x.numel() // c)).view(1)
        first = _SumAcrossRanks.apply(torch.cat([x.sum(dims), count]))
        n = first[-1]
        mean = first[:c] / n
        centred = x - mean.view(shape)
        var = _SumAcrossRanks.apply((centred * centred).sum(dims)) / n
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * n / (n - 1).clamp_min(1), alpha=m)
        y = centred * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(out_dtype)


def convert_global_batchnorm(module: nn.Module) -> nn.Module:
    """Swap every BatchNorm for :class:`GlobalBatchNorm`, keeping parameters and buffers."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        new = GlobalBatchNorm(
            module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats
        )
        floats = [t for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()]
        if floats:  # keep the dtype/device (load_state_dict would cast into the new module's fp32)
            new.to(floats[0].device, floats[0].dtype)
        new.load_state_dict(module.state_dict())
        new.train(module.training)
        return new
    for name, child in module.named_children():
        module.add_module(name, convert_global_batchnorm(child))
    return module


def synchronise_batchnorm(module: nn.Module, env: DistEnv) -> nn.Module:
    """Global batch statistics across ranks: SyncBatchNorm on CUDA, GlobalBatchNorm elsewhere."""
    if not env.distributed:
        return module
    if env.device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if env.device.type != "cpu":
        raise TrainingConfigError(f"synchronised batch norm is not supported on {env.device.type}")
    return convert_global_batchnorm(module)
