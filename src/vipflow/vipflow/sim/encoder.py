"""The kitchen encoder: a small VIP encoder pretrained on simulated videos of *other* tasks.

Official VIP weights cannot be shipped or downloaded here, so this stands in for pretraining
on human video: a ``convnet-small`` VIP encoder trained with our own VIP objective
(:mod:`vipflow.encoder_training`) on scripted-expert videos of every kitchen task except the one it will
be evaluated on. One encoder per held-out task ships in ``vipflow/assets`` (≈5 MB each); the
exact command that reproduces them is::

    python -m vipflow.sim.encoder --all --out src/vipflow/vipflow/assets

``vipflow demo`` loads the shipped file for its task, or trains one when it is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vipflow.cli.options import add_options, from_args
from vipflow.demo_config import KitchenEncoderConfig
from vipflow.encoder_training import train_encoder
from vipflow.encoders import Encoder, load_encoder
from vipflow.sim.demos import demo_styles, run_expert
from vipflow.sim.kitchen import KitchenSim
from vipflow.sim.tasks import TASKS, get_task

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def asset_name(held_out: str) -> str:
    return f"kitchen_vip_no_{get_task(held_out).name}.safetensors"


def shipped_encoder_path(held_out: str) -> Path:
    """Where the shipped encoder that never saw ``held_out`` lives (may not exist)."""
    return ASSETS / asset_name(held_out)


def expert_videos(
    task: str, n: int, *, image_size: int, seed: int, progress: bool = True
) -> list[np.ndarray]:
    """``n`` noisy-expert videos (T, S, S, 3) uint8 of one task, each ending at its goal."""
    sim = KitchenSim(task, seed=seed, image_size=image_size)
    videos = []
    try:
        specs = demo_styles(n, 0, seed=seed + 7)  # different starts from the recorded demos
        for spec in tqdm(specs, desc=f"videos {task}", unit="video", disable=not progress):
            videos.append(np.stack([frame.rgb for frame, _ in run_expert(sim, spec, sim.task.horizon)]))
    finally:
        sim.close()
    return videos


def train_kitchen_encoder(
    videos: list[np.ndarray],
    out_path: str | Path,
    config: KitchenEncoderConfig | None = None,
    *,
    run_dir: str | Path | None = None,
    val_videos: list[np.ndarray] | None = None,
    progress: bool = True,
) -> Encoder:
    """Train a convnet-small VIP encoder on ``videos`` and export it to ``out_path``."""
    cfg = config or KitchenEncoderConfig()
    out_path = Path(out_path)
    with contextlib.ExitStack() as stack:
        if run_dir is None:  # checkpoints and logs are scratch unless asked for
            run_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="kitchen_vip_"))
        result = _train(videos, val_videos, cfg, Path(run_dir), progress)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.encoder_path, out_path)
    return load_encoder("vip", out_path)


def _train(videos, val_videos, cfg: KitchenEncoderConfig, run_dir: Path, progress: bool):
    return train_encoder(
        videos,
        val_videos=val_videos,
        objective="vip",
        arch="convnet-small",
        hidden_dim=cfg.hidden_dim,
        image_size=cfg.image_size,
        steps=cfg.steps,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        seed=cfg.seed,
        cache_dir="memory",
        num_workers=0,
        eval_every=max(cfg.steps // 4, 1),
        checkpoint_every=0,
        out_dir=str(run_dir),
        progress=progress,
    )


def pretrain_for(
    held_out: str,
    out_path: str | Path,
    config: KitchenEncoderConfig | None = None,
    *,
    progress: bool = True,
) -> Encoder:
    """The sim-pretrained encoder for evaluating on ``held_out``: trained on the other tasks."""
    cfg = config or KitchenEncoderConfig()
    held = get_task(held_out).name
    videos: list[np.ndarray] = []
    for task in sorted(TASKS):
        if task != held:
            videos += expert_videos(
                task, cfg.videos_per_task, image_size=cfg.image_size, seed=cfg.seed, progress=progress
            )
    return train_kitchen_encoder(videos, out_path, cfg, progress=progress)


def kitchen_encoder(
    task: str,
    *,
    cache_dir: str | Path,
    config: KitchenEncoderConfig | None = None,
    progress: bool = True,
    force_train: bool = False,
) -> tuple[Encoder, Path, bool]:
    """(encoder, weights path, trained_now) for a task: the shipped file, else one trained now."""
    shipped = shipped_encoder_path(task)
    path = Path(cache_dir) / asset_name(task)
    if not force_train:
        for existing in (shipped, path):
            if existing.is_file():
                return load_encoder("vip", existing), existing, False
    return pretrain_for(task, path, config, progress=progress), path, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vipflow.sim.encoder",
        description="Pretrain the kitchen VIP encoders (one per held-out task) on simulated videos.",
    )
    parser.add_argument("--held-out", action="append", default=[], help="task to hold out (repeatable)")
    parser.add_argument("--all", action="store_true", help="one encoder per simulated task")
    parser.add_argument("--out", type=Path, default=ASSETS, help="output directory")
    add_options(parser, KitchenEncoderConfig)
    args = parser.parse_args(argv)
    tasks = sorted(TASKS) if args.all else [get_task(t).name for t in args.held_out]
    if not tasks:
        parser.error("give --held-out TASK or --all")
    cfg = from_args(KitchenEncoderConfig, args)
    for task in tasks:
        path = args.out / asset_name(task)
        pretrain_for(task, path, cfg)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
