"""The training loop and run directory: checkpoints, exact resume, validation, logs, curves.

The loop is deliberately bare: the whole (normalised) dataset sits in memory as tensors, each
step draws indices from a seeded ``torch.Generator`` and gathers a batch. No DataLoader, no
workers: 20k steps of a [256, 256] MLP are dominated by the optimiser, not by data handling.
Everything that influences the weights (initial weights, sampler RNG, Adam moments, step) is
in the checkpoint, so a resumed run reproduces the uninterrupted one bit for bit on CPU.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from vipflow.config_schema import ConfigError, resume_differences, to_json
from vipflow.interrupt import graceful
from vipflow.policy.checkpoint import (
    MAX_ABS_WEIGHT,
    latest_checkpoint,
    load_training_state,
    read_policy,
    write_checkpoint,
)
from vipflow.policy.errors import NonFiniteLossError, ResumeMismatchError
from vipflow.policy.model import PolicyNet, build_policy_net, make_optimizer, torch_threads
from vipflow.policy.train_config import TrainConfig
from vipflow.policy.training_set import PreparedData
from vipflow.progress import progress_bar
from vipflow.runs import (
    CONFIG_JSON,
    METRICS_CSV,
    SUMMARY_JSON,
    MetricsCSV,
    Panel,
    checkpoint_name,
    plot_curves,
    read_json,
    write_json,
)
from vipflow.tensorfile import value_problems

log = logging.getLogger(__name__)

CURVE_PNG = "training_curve.png"
COLUMNS = ("step", "train_loss", "val_loss", "val_mse", "elapsed_s")
CURVES = Panel(
    "weighted loss (normalised actions)",
    ("train_loss", "val_loss"),
    styles={"val_loss": "o-"},
    log_when_positive=True,  # the Gaussian head's NLL can be negative; keep those linear
)


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
    stop_signal: int | None = None  # SIGINT/SIGTERM that stopped the run (None: finished or on_step)


def _evaluate(net: PolicyNet, data: PreparedData) -> tuple[float | None, float | None]:
    """Validation weighted loss and plain MSE (normalised actions) on the held-out episodes."""
    if len(data.val_x) == 0:
        return None, None
    with torch.no_grad():
        loss = (net.per_sample_loss(data.val_x, data.val_y) * data.val_w).mean()
        mse = (net(data.val_x)[0] - data.val_y).pow(2).mean()
    return float(loss), float(mse)


def _check_run(run_dir: Path, cfg: TrainConfig, data: PreparedData, resume: bool) -> tuple[Path | None, dict]:
    """(checkpoint to resume from or None, the saved config.json or {}) after checking that the run
    folder may be started or continued. Writes nothing, so a refused resume leaves the run as it was."""
    config_path = run_dir / CONFIG_JSON
    if not config_path.exists():
        return None, {}
    if not resume:
        raise ResumeMismatchError(
            f"{run_dir} already holds a run; resume it (--resume) or choose another run directory"
        )
    saved = read_json(config_path, ResumeMismatchError)
    try:
        diffs = resume_differences(cfg, saved["train"])
        same_data = saved["resolved"]["data_hash"] == data.data_hash
    except (ConfigError, KeyError, TypeError) as exc:
        raise ResumeMismatchError(
            f"cannot resume {run_dir}: {config_path} is not a policy run's config ({exc})"
        ) from None
    if diffs:
        raise ResumeMismatchError(
            f"cannot resume {run_dir}: the configuration changed ({'; '.join(diffs)}); resume with the "
            "saved configuration (`vipflow train --resume RUN`) or start a new run directory"
        )
    if not same_data:
        raise ResumeMismatchError(
            f"cannot resume {run_dir}: the training data differ from the run's (episodes, encoder or "
            "cache contents changed); restore them or start a new run directory"
        )
    return latest_checkpoint(run_dir), saved


def _write_config(run_dir: Path, cfg: TrainConfig, data: PreparedData, saved: dict) -> None:
    """``config.json``: the resolved training config and what the data resolved to (a resumed run
    keeps its record and takes the new step target and other free fields)."""
    if saved:
        write_json(run_dir / CONFIG_JSON, saved | {"train": to_json(cfg)})
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = {
        "data_hash": data.data_hash,
        "policy": data.policy.to_json(),
        "weight_stats": data.weight_stats.to_json(),
        **data.summary,
    }
    write_json(run_dir / CONFIG_JSON, {"train": to_json(cfg), "resolved": resolved})


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
    resume_from, saved = _check_run(run_dir, cfg, data, resume)
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
    _write_config(run_dir, cfg, data, saved)  # only now: everything the run needs has loaded
    net.train()
    metrics = MetricsCSV(run_dir / METRICS_CSV, COLUMNS, start if resume_from is not None else None)
    elapsed0 = metrics.elapsed_offset
    n = len(data.train_x)
    batch = min(cfg.batch_size, n)
    x, y, w = data.train_x, data.train_y, data.train_w

    def diverged(step: int, what: str) -> NonFiniteLossError:
        kept = f"the last good checkpoint {ckpt} is kept" if ckpt is not None else "no checkpoint was written"
        return NonFiniteLossError(
            f"{what} at step {step} of {run_dir}; training stopped and {kept}. Lower --lr (now {cfg.lr:g}), "
            "check the episodes (`vipflow episodes validate`), or resume from the last good checkpoint"
        )

    def checkpoint(step: int) -> Path:
        problem = value_problems(net.state_dict(), MAX_ABS_WEIGHT)  # what the loader would refuse
        if problem:
            raise diverged(step, f"the policy weights diverged ({problem})")
        return write_checkpoint(
            run_dir, step, net, data.policy, data.task_table, opt, sampler, {"data_hash": data.data_hash}
        )

    step = start
    ckpt = resume_from
    running, count = torch.zeros(()), 0
    train_loss = val_loss = None
    t0 = time.perf_counter()
    bar = progress_bar(f"{data.policy.method} {run_dir.name}", cfg.steps, enabled=cfg.progress, initial=start,
                       unit="step", dynamic_ncols=True)
    try:
        with graceful(lambda reason: log.warning(
            "%s: finishing this step and writing a checkpoint (signal again to abort)", reason
        )) as stop, torch_threads(cfg.num_threads):
            while step < cfg.steps and not stop.requested:
                idx = torch.randint(n, (batch,), generator=sampler)
                loss = (net.per_sample_loss(x[idx], y[idx]) * w[idx]).mean()
                if not torch.isfinite(loss):
                    raise diverged(step + 1, f"the training loss is {float(loss.detach())}")
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
                    elapsed = elapsed0 + time.perf_counter() - t0
                    values = {"train_loss": logged, "val_loss": vl, "val_mse": vm, "elapsed_s": elapsed}
                    metrics.write(step, values)
                    bar.set_postfix(
                        loss=f"{logged:.4g}", val=f"{val_loss:.4g}" if val_loss is not None else "-"
                    )
                bar.update(1)
                if on_step is not None and on_step(step, logged):
                    stop.request("on_step")
                if step % cfg.save_every == 0 and step < cfg.steps:
                    ckpt = checkpoint(step)
            if ckpt is None or ckpt.name != checkpoint_name(step):
                ckpt = checkpoint(step)
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    interrupted = step < cfg.steps
    title = f"{data.policy.method} - {run_dir.name}"
    plot_curves(run_dir / METRICS_CSV, run_dir / CURVE_PNG, title, [CURVES])
    result = TrainResult(
        run_dir,
        ckpt,
        step,
        interrupted,
        train_loss,
        val_loss,
        wall,
        (step - start) / wall if wall > 0 else 0.0,
        stop.signum,
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
            "weight_warning": data.weight_stats.warning(cfg.weighting),
        },
    )
    return result
