"""VIP training throughput on CPU: our frame-cache pipeline vs the official loader's design.

Baseline (measured in the same run, same model, batch, crops and loss): an endless
IterableDataset that, for every sample, globs the data root for video folders, globs the chosen
folder to count its frames, decodes four JPEG files with torchvision.io.read_image, applies one
RandomResizedCrop to the stack (``rctraj``) and then Resize+CenterCrop, as
facebookresearch/vip's ``VIPBuffer`` does for non-Ego4D data. Ours: frames decoded once into
memory-mapped uint8 arrays at training resolution, samples drawn by number (StepSampler), one
shared crop on uint8 tensors.

    .venv/bin/python bench/train_vip/run.py                       # full settings
    .venv/bin/python bench/train_vip/run.py --videos 40 --steps 10 --warmup 3   # quick check

Writes bench/results/train_vip.json (see --out).
"""

from __future__ import annotations

import argparse
import glob
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torchvision
from torch.utils.data import DataLoader, IterableDataset
from torchvision import transforms

from vipflow.benchmark import finished, machine, write_report
from vipflow.encoder_training.cache import FrameCache
from vipflow.encoder_training.config import TrainConfig
from vipflow.encoder_training.dataset import SampleSpec, StepSampler, SubTrajectoryDataset, make_loader
from vipflow.encoder_training.distributed import DistEnv
from vipflow.encoder_training.model import TrainModule, build_encoder
from vipflow.encoder_training.sampling import vip_indices
from vipflow.encoder_training.sources import discover_sources
from vipflow.encoder_training.synthetic import drifting_square_video
from vipflow.encoder_training.trainer import StepRunner
from vipflow.interrupt import run_script

ROOT = Path(__file__).resolve().parents[2]


def write_dataset(root: Path, videos: int, frames: int, height: int, width: int, seed: int) -> None:
    """JPEG frame folders named as the official loader expects: ``<root>/<digit...>/<i>.jpg``."""
    rng = np.random.default_rng(seed)
    for v in range(videos):
        folder = root / f"{v:05d}"
        folder.mkdir(parents=True)
        video = drifting_square_video(rng, frames=frames, size=max(height, width), square=24, min_travel=40)
        for i, frame in enumerate(video):
            cv2.imwrite(str(folder / f"{i}.jpg"), cv2.cvtColor(frame[:height, :width], cv2.COLOR_RGB2BGR))


class OfficialStyleBuffer(IterableDataset):
    """The per-sample work of the official VIP loader (non-Ego4D branch), at ``size`` pixels."""

    def __init__(self, datapath: Path, size: int) -> None:
        self.datapath = datapath
        self.aug = transforms.RandomResizedCrop(size, scale=(0.2, 1.0), antialias=True)
        self.preprocess = torch.nn.Sequential(
            transforms.Resize(round(size * 256 / 224), antialias=True), transforms.CenterCrop(size)
        )

    def _sample(self) -> dict:
        videos = glob.glob(f"{self.datapath}/[0-9]*")
        vid = videos[np.random.randint(0, len(videos))]
        length = len(glob.glob(f"{vid}/*.png")) or len(glob.glob(f"{vid}/*.jpg"))
        idx = vip_indices(length, np.random.default_rng(np.random.randint(2**31)))
        ims = torch.stack([torchvision.io.read_image(f"{vid}/{i}.jpg") for i in idx])
        ims = self.aug(ims / 255.0) * 255.0
        return {"frames": self.preprocess(ims)}

    def __iter__(self):
        while True:
            yield self._sample()


def seed_official_worker(worker_id: int) -> None:
    np.random.seed(1000 + worker_id)  # the official code does not seed workers; we must, for a fair run


def measure(loader, runner: StepRunner, optimizer, warmup: int, steps: int, batch: int, train: bool) -> float:
    """Samples per second over ``steps`` batches after ``warmup`` (train step included if ``train``)."""
    it = iter(loader)
    t0 = None
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        b = next(it)
        if train:
            terms = runner.loss_terms(b, i)
            optimizer.zero_grad(set_to_none=True)
            runner.backward(terms)
            optimizer.step()
    return steps * batch / (time.perf_counter() - t0)


def run_size(data: Path, work: Path, size: int, args: argparse.Namespace) -> dict:
    """Both pipelines at one crop size: same model (fresh init), batch, loss and optimiser."""
    cfg = TrainConfig(
        objective="vip", arch=args.arch, hidden_dim=1024, image_size=size, batch_size=args.batch_size
    )
    env = DistEnv()
    encoder = build_encoder(cfg, env.device)
    encoder.module.train()
    runner = StepRunner(TrainModule(encoder), cfg.loss_config(), env, cfg.seed)
    optimizer = torch.optim.Adam(encoder.module.parameters(), lr=cfg.lr)

    t = time.perf_counter()
    cache = FrameCache.build(discover_sources(data), work / f"cache{size}", size, progress=False)
    cache_s = time.perf_counter() - t
    ours = make_loader(
        SubTrajectoryDataset(cache, SampleSpec("vip", size, "rctraj")),
        StepSampler(0, 10**9, args.batch_size),
        args.workers,
        pin_memory=False,
    )
    base = DataLoader(
        OfficialStyleBuffer(data, size),
        batch_size=args.batch_size,
        num_workers=args.workers,
        worker_init_fn=seed_official_worker,
    )
    out: dict = {"image_size": size}
    for name, loader in (("baseline", base), ("ours", ours)):
        out[name] = {
            "loader_samples_per_s": measure(
                loader, runner, optimizer, args.warmup, args.steps, args.batch_size, False
            ),
            "train_samples_per_s": measure(
                loader, runner, optimizer, args.warmup, args.steps, args.batch_size, True
            ),
        }
        print(size, name, {k: round(v, 1) for k, v in out[name].items()}, flush=True)
    out["ours"]["cache_build_s"] = cache_s
    out["speedup_train"] = out["ours"]["train_samples_per_s"] / out["baseline"]["train_samples_per_s"]
    out["speedup_loader"] = out["ours"]["loader_samples_per_s"] / out["baseline"]["loader_samples_per_s"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=200)
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--height", type=int, default=480, help="JPEG frame height (RealSense default 640x480)")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument(
        "--image-sizes", type=int, nargs="+", default=[32, 64], help="crop sizes; the first is the headline"
    )
    ap.add_argument("--arch", default="convnet-small")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the training process")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--workdir", type=Path, default=None, help="keep the generated data here")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "train_vip.json")
    args = ap.parse_args()
    host = machine()
    torch.set_num_threads(args.threads)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_train_vip_"))
    data = work / "data"
    try:
        if not data.is_dir():
            t = time.perf_counter()
            write_dataset(data, args.videos, args.frames, args.height, args.width, seed=0)
            print(f"wrote {args.videos} x {args.frames} JPEG frames in {time.perf_counter() - t:.1f}s")

        runs = [run_size(data, work, size, args) for size in args.image_sizes]
        head = runs[0]
        report = {
            "benchmark": "train_vip",
            "what": "VIP training samples/s on CPU, frame cache vs per-sample JPEG + glob (official design)",
            "settings": vars(args) | {"workdir": str(work), "out": str(args.out)},
            "machine": finished(host),
            "runs": runs,
            "speedup_train": head["speedup_train"],
            "speedup_loader": head["speedup_loader"],
            "target_speedup": 3.0,
            "meets_target": head["speedup_train"] >= 3.0,
        }
        write_report(args.out, report)
        for r in runs:
            print(
                f"{r['image_size']}px: training speedup {r['speedup_train']:.2f}x "
                f"(loader alone {r['speedup_loader']:.1f}x)"
            )
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    run_script(main, "no report written (the JSON is written only when every size finished)")
