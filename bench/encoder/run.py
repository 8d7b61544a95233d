"""Encoder inference benchmark: VIP ResNet-50 at 224x224 on CPU, our path vs plain eager.

* ``baseline``: what a straightforward port does - uint8 frame -> float NCHW contiguous,
  /255, ImageNet normalise, eager fp32 forward of the same network under ``torch.no_grad``.
* ``optimised``: ``Encoder.embed_images`` (channels_last preprocessing, ``inference_mode``,
  TorchScript-frozen copy with BatchNorm folded and oneDNN weights pre-packed).

Both measure uint8 frames in -> embeddings out, in the same process, interleaved (alternating
which goes first) so load from other processes hits both alike. Weights are random (timing does
not depend on them). Reported: batch-1 latency p50/p99, batch-32 images/s, and the largest
relative difference between the two paths' embeddings (target <= 1e-4; speed target >= 1.4x at
batch 1).

    .venv/bin/python bench/encoder/run.py                    # full: 200 x batch 1, 10 x batch 32
    .venv/bin/python bench/encoder/run.py --iters 20 --batch-iters 2   # quick check
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from vipflow.encoders import Encoder, load_encoder
from vipflow.interrupt import run_script

SPEED_TARGET = 1.4
EQUALITY_TARGET = 1e-4


def baseline_forward(encoder: Encoder) -> Callable[[np.ndarray], np.ndarray]:
    """Plain eager fp32 NCHW: the same network and normalisation, no optimisation."""
    net = copy.deepcopy(encoder.module).eval().to(memory_format=torch.contiguous_format)
    mean = torch.tensor(encoder.preprocess.mean).view(1, 3, 1, 1)
    std = torch.tensor(encoder.preprocess.std).view(1, 3, 1, 1)

    def forward(frames: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            x = torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous().float() / 255.0
            return net((x - mean) / std).numpy()

    return forward


def timed(fn: Callable[[np.ndarray], np.ndarray], frames: np.ndarray) -> float:
    t = time.perf_counter()
    fn(frames)
    return time.perf_counter() - t


def interleaved(paths: dict[str, Callable], frames: np.ndarray, iters: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in paths}
    names = list(paths)
    for i in range(iters):
        for name in names if i % 2 == 0 else names[::-1]:
            times[name].append(timed(paths[name], frames))
    return times


def summarise(b1: list[float], b32: list[float], batch: int) -> dict:
    ms = np.array(b1) * 1e3
    return {
        "batch1_ms": {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
                      "mean": float(ms.mean()), "min": float(ms.min()), "n": len(ms)},
        f"batch{batch}_images_per_s": float(batch / np.median(b32)),
        f"batch{batch}_n": len(b32),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iters", type=int, default=200, help="batch-1 repetitions per path")
    ap.add_argument("--batch-iters", type=int, default=10, help="batch-32 repetitions per path")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/encoder.json"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    with warnings.catch_warnings():  # random weights are intended here
        warnings.simplefilter("ignore", UserWarning)
        encoder = load_encoder("vip", arch="resnet50", random_init=True)
    paths = {
        "baseline": baseline_forward(encoder),
        "optimised": lambda f: encoder.embed_images(f, batch_size=64),
    }
    rng = np.random.default_rng(0)
    one = rng.integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    many = rng.integers(0, 256, (args.batch, 224, 224, 3), dtype=np.uint8)

    check = rng.integers(0, 256, (4, 224, 224, 3), dtype=np.uint8)
    ref, ours = paths["baseline"](check), paths["optimised"](check)  # also builds the frozen copy
    max_rel = float(np.abs(ours - ref).max() / np.abs(ref).max())

    interleaved(paths, one, args.warmup)
    b1 = interleaved(paths, one, args.iters)
    interleaved(paths, many, 1)
    b32 = interleaved(paths, many, args.batch_iters)
    results = {name: summarise(b1[name], b32[name], args.batch) for name in paths}
    base, opt = results["baseline"], results["optimised"]
    speed_b1 = base["batch1_ms"]["p50"] / opt["batch1_ms"]["p50"]
    key = f"batch{args.batch}_images_per_s"
    report = {
        "benchmark": "encoder",
        "model": "vip resnet50 (random weights), 224x224 uint8 RGB in, 1024-d out",
        "device": "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "machine": platform.processor() or platform.machine(),
        "results": results,
        "speedup_batch1_p50": speed_b1,
        "speedup_batch1_p99": base["batch1_ms"]["p99"] / opt["batch1_ms"]["p99"],
        f"speedup_batch{args.batch}_throughput": opt[key] / base[key],
        "max_relative_difference": max_rel,
        "targets": {
            "speedup_batch1": SPEED_TARGET, "met_speed": speed_b1 >= SPEED_TARGET,
            "max_relative_difference": EQUALITY_TARGET, "met_equality": max_rel <= EQUALITY_TARGET,
        },
        "settings": {"iters": args.iters, "batch_iters": args.batch_iters, "warmup": args.warmup},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    b, o = base["batch1_ms"], opt["batch1_ms"]
    print(f"batch 1  p50: baseline {b['p50']:.1f} ms, optimised {o['p50']:.1f} ms -> {speed_b1:.2f}x "
          f"(target {SPEED_TARGET}x)")
    print(f"batch 1  p99: baseline {b['p99']:.1f} ms, optimised {o['p99']:.1f} ms")
    print(f"batch {args.batch}: baseline {base[key]:.1f} img/s, optimised {opt[key]:.1f} img/s")
    print(f"max relative embedding difference {max_rel:.2e} (target <= {EQUALITY_TARGET:g})")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    run_script(main, "no report written (the JSON is written only when every measurement finished)")
