"""Encoder inference benchmark: eager fp32 vs every runtime x precision, VIP ResNet-50 on the CPU.

One process, one run: every path embeds the same uint8 frames (224x224 RGB in -> 1024-d out,
preprocessing included) through ``Encoder.embed_images``. Per thread count (1 and 2), the paths
take turns on every iteration (order alternating), so load from other processes hits all alike.
Paths: eager fp32 (the reference and the baseline), eager bf16, OpenVINO fp32/bf16/int8, ONNX
Runtime fp32 - those this CPU supports natively. Weights are random (timing does not depend on them).

Reported per path and thread count: batch-1 latency p50/p99, batch-32 images/s; per path: the
largest relative embedding difference from eager fp32 and the agreement gate on the calibration
set (docs/encoders.md); the cost of the first start (export + compile) and of a cached start;
preprocessing time (torch) at 224x224 and 480x640; ``machine`` (vipflow.benchmark: CPU model
and instruction-set flags, load average at start and end). ``hardware``: what this CPU delivers
at all, measured in the same run: the network's FLOPs per image, a large matrix product's
GFLOP/s per precision and thread count (oneDNN through torch: the AMX tiles for bf16 where
present), and each fp32/bf16 path's batch-1 GFLOP/s as a share of that product's rate of its
precision, so a ratio that misses its target on a slow or shared host shows whether the path
or the host is short. Top-level keys:

* ``speedup_exact_b1``: eager fp32 p50 / p50 of the fastest path within 1e-5 of it, at 2 threads;
* ``speedup_fast_b1``: the same for the fastest path that passes the agreement gate among those
  precision ``auto`` may choose (not int8: it passes on the calibration set and fails on real
  frames with a ResNet-50, docs/encoders.md; its own speed-up is ``speedup_b1_at_max_threads``);
* ``max_rel_diff_exact``: that exact path's largest relative difference.

Acceptance on a CPU with AMX-BF16: speedup_exact_b1 >= 1.8, speedup_fast_b1 >= 7; without native
bf16: speedup_exact_b1 >= 1.5.

    .venv/bin/python bench/encoder/run.py                          # full: 100 x batch 1, 5 x batch 32
    .venv/bin/python bench/encoder/run.py --iters 10 --batch-iters 1   # quick check
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from vipflow.benchmark import finished, machine, write_report
from vipflow.encoders import Encoder, load_encoder
from vipflow.encoders.agreement import agreement, calibration_episodes, embed_episodes
from vipflow.encoders.compiled_cache import CompiledCache
from vipflow.encoders.inference import FAST_PRECISIONS, RUNTIMES, installed, supported_precisions
from vipflow.interrupt import run_script

EXACT = 1e-5
TARGETS = {
    "native_bf16": {"speedup_exact_b1": 1.8, "speedup_fast_b1": 7.0},
    "no_bf16": {"speedup_exact_b1": 1.5},
}


def paths_for(encoder: Encoder) -> dict[str, Encoder]:
    out = {}
    for runtime in RUNTIMES:
        if installed(runtime):
            for precision in supported_precisions(runtime, encoder.device):
                out[f"{runtime}-{precision}"] = encoder.with_inference(runtime, precision)
    return out


def interleaved(paths: dict[str, Callable], frames: np.ndarray, iters: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in paths}
    names = list(paths)
    for i in range(iters):
        for name in names if i % 2 == 0 else names[::-1]:
            t = time.perf_counter()
            paths[name](frames)
            times[name].append(time.perf_counter() - t)
    return times


def network_flops(encoder: Encoder, frame: np.ndarray) -> int:
    """FLOPs (2 per multiply-add) of one image through the network, preprocessing excluded."""
    x = encoder.transform(torch.from_numpy(frame))
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        encoder.module(x)
    return int(counter.get_total_flops())


def matmul_gflops(dtype: torch.dtype, n: int = 2048, reps: int = 10) -> float:
    """The median rate of an n x n matrix product: what the CPU's vector (fp32) or matrix (bf16
    on AMX) units deliver to a well-tuned kernel at the current thread count."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n**3 / float(np.median(times)) / 1e9


def startup_seconds(encoder: Encoder, name: str, frame: np.ndarray) -> dict:
    """First start (export + compile into an empty cache) and second start (cache hit)."""
    runtime, precision = name.split("-")
    with tempfile.TemporaryDirectory() as cache:
        out = {}
        for start in ("first", "cached"):
            fresh = encoder.with_inference(runtime, precision)
            fresh.compiled_cache = CompiledCache(cache)
            t = time.perf_counter()
            fresh.embed_images(frame)
            out[f"{start}_start_s"] = round(time.perf_counter() - t, 2)
        return out


def preprocessing_ms(encoder: Encoder, reps: int = 20) -> dict:
    out = {}
    for h, w in ((224, 224), (480, 640)):
        frames = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (1, h, w, 3), dtype=np.uint8))
        encoder.transform(frames)
        t = time.perf_counter()
        for _ in range(reps):
            encoder.transform(frames)
        out[f"{h}x{w}"] = round((time.perf_counter() - t) / reps * 1e3, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iters", type=int, default=100, help="batch-1 repetitions per path and thread count")
    ap.add_argument("--batch-iters", type=int, default=5, help="batch-32 repetitions per path, thread count")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="intra-op thread counts")
    ap.add_argument("--out", type=Path, default=Path("bench/results/encoder.json"))
    args = ap.parse_args()
    host = machine()  # other processes share the CPU: see how busy it was

    with warnings.catch_warnings():  # random weights are intended here
        warnings.simplefilter("ignore", UserWarning)
        encoder = load_encoder("vip", arch="resnet50", random_init=True)
    paths = paths_for(encoder)
    rng = np.random.default_rng(0)
    one = rng.integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    many = rng.integers(0, 256, (args.batch, 224, 224, 3), dtype=np.uint8)

    print(f"CPU flags: {' '.join(host['cpu_flags'])}; paths: {', '.join(paths)}", flush=True)
    startup = {name: startup_seconds(encoder, name, one) for name in paths if not name.startswith("eager")}
    episodes, labels = calibration_episodes(224)
    reference = embed_episodes(paths["eager-fp32"], episodes)
    quality = {}
    for name, enc in paths.items():
        found = agreement(reference, embed_episodes(enc, episodes), encoder.similarity, labels)
        quality[name] = found.as_dict()
        print(f"{name}: max rel diff {found.max_rel_diff:.1e}, value Spearman {found.value_spearman:.5f}, "
              f"dVOC {found.delta_voc:+.4f}, gate {'pass' if found.passes() else 'FAIL'}",
              flush=True)

    timing: dict[str, dict] = {name: {} for name in paths}
    flops = network_flops(encoder, one)
    peak: dict[str, dict[str, float]] = {}
    native_bf16 = any(n.endswith("bf16") for n in paths)  # paths_for offers bf16 only where native
    dtypes = {"fp32": torch.float32} | ({"bf16": torch.bfloat16} if native_bf16 else {})
    for threads in args.threads:
        torch.set_num_threads(threads)
        peak[f"threads_{threads}"] = {p: matmul_gflops(dt) for p, dt in dtypes.items()}
        calls = {name: (lambda f, e=enc: e.embed_images(f, batch_size=len(f))) for name, enc in paths.items()}
        interleaved(calls, one, args.warmup)  # also loads each compiled model for this thread count
        b1 = interleaved(calls, one, args.iters)
        interleaved(calls, many, 1)
        bn = interleaved(calls, many, args.batch_iters)
        for name in paths:
            ms = np.array(b1[name]) * 1e3
            timing[name][f"threads_{threads}"] = {
                "batch1_ms": {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
                              "min": float(ms.min()), "n": len(ms)},
                f"batch{args.batch}_images_per_s": float(args.batch / np.median(bn[name])),
            }
            t = timing[name][f"threads_{threads}"]
            gflops = float(flops / np.median(b1[name]) / 1e9)
            t["batch1_gflops"] = gflops
            if (precision := name.split("-")[1]) in dtypes:
                t["batch1_share_of_matmul_rate"] = gflops / peak[f"threads_{threads}"][precision]
            print(f"{threads} thread(s) {name:<17} batch 1 p50 {t['batch1_ms']['p50']:7.1f} ms "
                  f"p99 {t['batch1_ms']['p99']:7.1f} ms; batch {args.batch} "
                  f"{t[f'batch{args.batch}_images_per_s']:6.1f} images/s; batch 1 {gflops:5.0f} GFLOP/s"
                  + (f" ({t['batch1_share_of_matmul_rate']:.0%} of the matrix-product rate)"
                     if "batch1_share_of_matmul_rate" in t else ""), flush=True)

    top = f"threads_{max(args.threads)}"
    base = timing["eager-fp32"][top]["batch1_ms"]["p50"]
    speedup = {name: base / timing[name][top]["batch1_ms"]["p50"] for name in paths}
    exact = [n for n in paths if quality[n]["max_rel_diff"] <= EXACT]
    fast = [n for n in paths if quality[n]["passes_gate"] and n.endswith(("fp32", *FAST_PRECISIONS))]
    best_exact = max(exact, key=speedup.__getitem__)
    best_fast = max(fast, key=speedup.__getitem__)
    targets = TARGETS["native_bf16" if native_bf16 else "no_bf16"]
    achieved = {"speedup_exact_b1": speedup[best_exact], "speedup_fast_b1": speedup[best_fast]}
    report = {
        "benchmark": "encoder",
        "model": "vip resnet50 (random weights), 224x224 uint8 RGB in, 1024-d out, preprocessing included",
        **achieved,
        "max_rel_diff_exact": quality[best_exact]["max_rel_diff"],
        "exact_path": best_exact,
        "fast_path": best_fast,
        "speedup_b1_at_max_threads": speedup,
        "targets": targets,
        "met": {k: achieved[k] >= v for k, v in targets.items()},
        "timing": timing,
        "hardware": {"network_gflop_per_image": flops / 1e9, "matmul_gflops": peak},
        "agreement": quality,
        "startup": startup,
        "settings": {"iters": args.iters, "batch_iters": args.batch_iters, "warmup": args.warmup,
                     "threads": args.threads},
    }
    torch.set_num_threads(1)
    report["preprocessing_ms_1_thread"] = preprocessing_ms(encoder)  # torch; the networks' times above
    report["machine"] = finished(host)
    write_report(args.out, report)
    print(f"speedup_exact_b1 {report['speedup_exact_b1']:.2f} ({best_exact}, max rel diff "
          f"{report['max_rel_diff_exact']:.1e}); speedup_fast_b1 {report['speedup_fast_b1']:.2f} "
          f"({best_fast}); targets {targets} met {report['met']}")
    print(f"network {flops / 1e9:.1f} GFLOP per image; matrix-product GFLOP/s {peak}")
    print(f"startup {startup}; preprocessing (ms, 1 thread) {report['preprocessing_ms_1_thread']}")


if __name__ == "__main__":
    run_script(main, "no report written (the JSON is written only when every measurement finished)")
