"""Benchmark the offline policy trainer.

Measures, on real episodes written by EpisodeWriter (20 episodes x 50 steps by default):
  1. first-run embedding: read the bags, encode every grid frame, fill the cache (frames/s);
  2. cached load: the same with a warm cache;
  3. training: ``fit`` for 20,000 steps on the cached embeddings (VIP defaults: MLP [256, 256],
     batch 32, Adam 1e-3, validation every 500 steps, checkpoints every 5,000) -- target < 60 s;
  4. baseline, same run: the textbook loop (torch DataLoader with shuffle, a fresh iterator
     per step, default Adam, torch's default thread count) for --baseline-steps, extrapolated.

    .venv/bin/python bench/train/run.py                 # full run (resnet50 encoder, 20k steps)
    .venv/bin/python bench/train/run.py --quick         # smoke test: convnet-small, 1k steps
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from vipflow.benchmark import finished, machine, write_report
from vipflow.encoders import load_encoder
from vipflow.episodes import EpisodeMeta, EpisodeWriter
from vipflow.hardware import Frame, RobotState
from vipflow.interrupt import Interrupted, run_script
from vipflow.policy.cache import EmbeddingCache
from vipflow.policy.embedded_episodes import load_episodes
from vipflow.policy.goals import demo_goals
from vipflow.policy.model import build_policy_net, torch_threads
from vipflow.policy.policy_config import EncoderRef
from vipflow.policy.train_config import TrainConfig
from vipflow.policy.trainer import fit
from vipflow.policy.training_set import prepare

PERIOD_NS = 40_000_000


def write_dataset(root: Path, episodes: int, ticks: int, size: int) -> None:
    """Demos whose camera image and end effector move together, at exactly 25 Hz."""
    rng = np.random.default_rng(0)
    for k in range(episodes):
        meta = EpisodeMeta(task="push", action_space="ee_delta")
        start = rng.uniform(-0.1, 0.1, 2)
        with EpisodeWriter(root / f"episode_{k:04d}", meta, time_offset_ns=0) as w:
            for i in range(ticks):
                t = 10**12 + i * PERIOD_NS
                p = i / (ticks - 1)
                pose = np.array([0.4 + start[0] + 0.2 * p, start[1], 0.3, 0, 0, 0, 1.0])
                w.write_state(RobotState(t, np.linspace(0, 0.5, 7) + 0.1 * p, np.zeros(7), pose, 0.04))
                img = rng.integers(0, 40, (size, size, 3), dtype=np.uint8)
                img[size // 3 : 2 * size // 3, : max(1, int(p * size))] = (220, 180, 30)
                w.write_frame(Frame(t, img))
            w.close("success" if k % 4 else "failure")


def baseline_loop(data, cfg: TrainConfig, steps: int) -> float:
    """The textbook loop: DataLoader(shuffle=True), a fresh iterator every step, default Adam."""
    net = build_policy_net(data.policy.input_dim, data.policy.action_dim, cfg.hidden_sizes, cfg.head, seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    loader = DataLoader(
        TensorDataset(data.train_x, data.train_y, data.train_w), batch_size=cfg.batch_size, shuffle=True
    )
    t0 = time.perf_counter()
    for _ in range(steps):
        x, y, w = next(iter(loader))
        loss = (net.per_sample_loss(x, y) * w).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--steps-per-episode", type=int, default=50, help="transitions per episode")
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--encoder-arch", default="resnet50", help="VIP-family arch (random init, same cost)")
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--baseline-steps", type=int, default=2_000)
    ap.add_argument("--quick", action="store_true", help="convnet-small, 1,000 steps, 300 baseline steps")
    ap.add_argument("--out", type=Path, default=Path("bench/results/train.json"))
    args = ap.parse_args()
    host = machine()
    if args.quick:
        args.encoder_arch, args.steps, args.baseline_steps = "convnet-small", 1_000, 300

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoder = load_encoder("vip", arch=args.encoder_arch, random_init=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_dataset(tmp / "data", args.episodes, args.steps_per_episode + 1, args.image_size)
        cfg = TrainConfig(
            datasets=(str(tmp / "data"),),
            run_dir=str(tmp / "run"),
            steps=args.steps,
            progress=False,
            cache_dir=str(tmp / "cache"),
        )

        cache = EmbeddingCache(tmp / "cache")
        t0 = time.perf_counter()
        episodes = load_episodes(cfg, encoder, cache)
        first_run = time.perf_counter() - t0
        frames = cache.stats.frames_encoded
        warm = EmbeddingCache(tmp / "cache")
        t0 = time.perf_counter()
        load_episodes(cfg, encoder, warm)
        cached = time.perf_counter() - t0
        assert warm.stats.hits == len(episodes) and warm.stats.misses == 0

        ref = EncoderRef(
            encoder.name, encoder.arch, encoder.fingerprint, encoder.embed_dim, encoder.similarity
        )
        data = prepare(episodes, demo_goals(episodes), ref, cfg)
        result = fit(data, cfg)
        if result.stop_signal is not None:  # fit stops gracefully; the benchmark must not go on
            raise Interrupted(result.stop_signal)
        base_s = baseline_loop(data, cfg, args.baseline_steps)
        with torch_threads(cfg.num_threads):  # the same loop without the thread-count difference
            base_1t_s = baseline_loop(data, cfg, args.baseline_steps)

    base_per_step = base_s / args.baseline_steps
    report = {
        "benchmark": "train",
        "machine": finished(host) | {"torch_default_threads": torch.get_num_threads()},
        "dataset": {
            "episodes": args.episodes,
            "transitions_per_episode": args.steps_per_episode,
            "image_size": args.image_size,
            "train_transitions": len(data.train_x),
            "val_transitions": len(data.val_x),
        },
        "embedding": {
            "encoder": f"vip/{args.encoder_arch} (random init)",
            "frames": frames,
            "first_run_s": round(first_run, 3),
            "first_run_frames_per_s": round(frames / first_run, 1),
            "encoder_only_frames_per_s": round(frames / cache.stats.encode_seconds, 1),
            "cached_load_s": round(cached, 3),
        },
        "train": {
            "steps": result.step,
            "wall_s": round(result.wall_s, 2),
            "steps_per_s": round(result.steps_per_s, 1),
            "includes": "validation every 500 steps, checkpoints every 5000, metrics.csv (not the final PNG)",
            "target_s_for_20k": 60,
            "projected_20k_s": round(result.wall_s * 20_000 / result.step, 1),
        },
        "baseline": {
            "loop": "DataLoader(shuffle=True) with a fresh iterator per step, default Adam, default threads",
            "steps": args.baseline_steps,
            "wall_s": round(base_s, 2),
            "projected_20k_s": round(base_per_step * 20_000, 1),
        },
        "baseline_same_threads": {
            "loop": f"the baseline loop with the trainer's thread count ({cfg.num_threads})",
            "steps": args.baseline_steps,
            "wall_s": round(base_1t_s, 2),
            "projected_20k_s": round(base_1t_s / args.baseline_steps * 20_000, 1),
        },
        "speedup_vs_baseline": round(base_per_step / (result.wall_s / result.step), 2),
        "speedup_vs_baseline_same_threads": round(
            base_1t_s / args.baseline_steps / (result.wall_s / result.step), 2
        ),
    }
    print(json.dumps(report, indent=2))
    write_report(args.out, report)


if __name__ == "__main__":
    run_script(main, "no report written (the JSON is written only when every timing finished)")
