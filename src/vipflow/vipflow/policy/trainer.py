"""The training loop and run directory: checkpoints, exact resume, validation, logs, curves.

The loop is deliberately bare: the whole (normalised) dataset sits in memory as tensors, each
step draws indices from a seeded ``torch.Generator`` and gathers a batch. No DataLoader, no
workers: 20k steps of a [256, 256] MLP are dominated by the optimiser, not by data handling.
Everything that influences the weights (initial weights, sampler RNG, Adam moments, step) is
in the checkpoint, so a resumed run reproduces the uninterrupted one bit for bit on CPU.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from vipflow.policy.checkpoint import (
    checkpoint_name,
    latest_checkpoint,
    load_training_state,
    read_policy,
    write_checkpoint,
    write_json,
)
from vipflow.policy.curves import MetricsLog, plot_training_curves
from vipflow.policy.errors import ResumeMismatchError
from vipflow.policy.model import PolicyNet, build_policy_net, make_optimizer, torch_threads
from vipflow.policy.train_config import TrainConfig
from vipflow.policy.training_set import PreparedData

log = logging.getLogger(__name__)

CONFIG_JSON = "config.json"
METRICS_CSV = "metrics.csv"
CURVE_PNG = "training_curve.png"
SUMMARY_JSON = "summary.json"


@dataclass
class TrainResult:
    run_dir: Path
    checkpoint: Path
    step: int
    interrupted: bool
    train_loss: float | None
    val_loss: float | None
    wall_s: float
    steps_per_s: float


@contextmanager
def _stop_on_sigint(flag: list[bool]):
    """First Ctrl-C asks the loop to stop after the current step (and checkpoint); a second one aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if flag[0]:
            raise KeyboardInterrupt
        flag[0] = True
        log.warning("interrupt: finishing this step and writing a checkpoint (Ctrl-C again to abort)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _evaluate(net: PolicyNet, data: PreparedData) -> tuple[float | None, float | None]:
    """Validation weighted loss and plain MSE (normalised actions) on the held-out episodes."""
    if len(data.val_x) == 0:
        return None, None
    with torch.no_grad():
        loss = (net.per_sample_loss(data.val_x, data.val_y) * data.val_w).mean()
        mse = (net(data.val_x)[0] - data.val_y).pow(2).mean()
    return float(loss), float(mse)


def _start_run(run_dir: Path, cfg: TrainConfig, data: PreparedData, resume: bool) -> Path | None:
    """Create or validate the run directory; the checkpoint to resume from (None: fresh start)."""
    config_path = run_dir / CONFIG_JSON
    if resume and config_path.exists():
        saved = json.loads(config_path.read_text())
        diffs = cfg.resume_differences(TrainConfig.from_json(saved["train"]))
        if diffs:
            raise ResumeMismatchError(
                f"cannot resume {run_dir}: the configuration changed ({'; '.join(diffs)}); resume with the "
                "saved configuration (`vipflow train --resume RUN`) or start a new run directory"
            )
        if saved["resolved"]["data_hash"] != data.data_hash:
            raise ResumeMismatchError(
                f"cannot resume {run_dir}: the training data differ from the run's (episodes, encoder or "
                "cache contents changed); restore them or start a new run directory"
            )
        saved["train"] = cfg.to_json()  # record the new step target and other free fields
        write_json(config_path, saved)
        return latest_checkpoint(run_dir)
    if not resume and config_path.exists():
        raise ResumeMismatchError(
            f"{run_dir} already holds a run; resume it (--resume) or choose another run directory"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = {
        "data_hash": data.data_hash,
        "policy": data.policy.to_json(),
        "weight_stats": data.weight_stats.to_json(),
        **data.summary,
    }
    write_json(config_path, {"train": cfg.to_json(), "resolved": resolved})
    return None


def fit(
    data: PreparedData,
    cfg: TrainConfig,
    *,
    resume: bool = False,
    on_step: Callable[[int, float | None], bool | None] | None = None,
) -> TrainResult:
    """Train (or continue) a policy on prepared data into ``cfg.run_dir``.

    ``on_step(step, train_loss_or_None)`` runs after every optimiser step (the loss only at log
    points); returning True stops the run after checkpointing, exactly like Ctrl-C.
    """
    run_dir = Path(cfg.run_dir)
    resume_from = _start_run(run_dir, cfg, data, resume)
    net = build_policy_net(
        data.policy.input_dim, data.policy.action_dim, cfg.hidden_sizes, cfg.head, seed=cfg.seed
    )
    opt = make_optimizer(net, cfg.lr)
    sampler = torch.Generator().manual_seed(cfg.seed)
    start = 0
    if resume_from is not None:
        _, saved_net, _ = read_policy(resume_from)
        net.load_state_dict(saved_net.state_dict())
        start = int(load_training_state(resume_from, opt, sampler)["step"])
        log.info("resuming %s from step %d", run_dir, start)
    net.train()
    metrics = MetricsLog(run_dir / METRICS_CSV, resume_step=start if resume_from is not None else None)
    n = len(data.train_x)
    batch = min(cfg.batch_size, n)
    x, y, w = data.train_x, data.train_y, data.train_w

    def checkpoint(step: int) -> Path:
        return write_checkpoint(
            run_dir, step, net, data.policy, data.task_table, opt, sampler, {"data_hash": data.data_hash}
        )

    stop = [False]
    step = start
    ckpt = resume_from
    running, count = torch.zeros(()), 0
    train_loss = val_loss = None
    t0 = time.perf_counter()
    bar = tqdm(
        total=cfg.steps,
        initial=start,
        disable=not cfg.progress,
        unit="step",
        dynamic_ncols=True,
        desc=f"{data.policy.method} {run_dir.name}",
    )
    try:
        with _stop_on_sigint(stop), torch_threads(cfg.num_threads):
            while step < cfg.steps and not stop[0]:
                idx = torch.randint(n, (batch,), generator=sampler)
                loss = (net.per_sample_loss(x[idx], y[idx]) * w[idx]).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                running += loss.detach()
                count += 1
                logged = None
                if step % cfg.log_every == 0 or step % cfg.eval_every == 0 or step == cfg.steps:
                    train_loss = logged = float(running) / count
                    running, count = torch.zeros(()), 0
                    vl = vm = None
                    if step % cfg.eval_every == 0 or step == cfg.steps:
                        net.eval()
                        vl, vm = _evaluate(net, data)
                        net.train()
                        val_loss = vl if vl is not None else val_loss
                    metrics.write(step, time.perf_counter() - t0, train_loss=logged, val_loss=vl, val_mse=vm)
                    bar.set_postfix(
                        loss=f"{logged:.4g}", val=f"{val_loss:.4g}" if val_loss is not None else "-"
                    )
                bar.update(1)
                if on_step is not None and on_step(step, logged):
                    stop[0] = True
                if step % cfg.save_every == 0 and step < cfg.steps:
                    ckpt = checkpoint(step)
            if ckpt is None or ckpt.name != checkpoint_name(step):
                ckpt = checkpoint(step)
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    interrupted = step < cfg.steps
    plot_training_curves(run_dir / METRICS_CSV, run_dir / CURVE_PNG, f"{data.policy.method} - {run_dir.name}")
    result = TrainResult(
        run_dir,
        ckpt,
        step,
        interrupted,
        train_loss,
        val_loss,
        wall,
        (step - start) / wall if wall > 0 else 0.0,
    )
    write_json(
        run_dir / SUMMARY_JSON,
        {
            "step": step,
            "steps_target": cfg.steps,
            "interrupted": interrupted,
            "checkpoint": ckpt.name,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "wall_s_this_session": wall,
            "steps_per_s": result.steps_per_s,
            "weight_stats": data.weight_stats.to_json(),
        },
    )
    return result
