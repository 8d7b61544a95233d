"""Training samples from the frame cache, and the order in which they are drawn.

A sample is a function of (seed, global sample number) only: its video, frame indices and crop
come from ``SeedSequence([seed, n])``. Workers therefore need no RNG hand-off (the official
loaders give every worker the same unseeded ``np.random``), a DDP rank simply takes its slice of
each global batch, and a resumed run continues the exact sample stream from its step.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from torchvision.transforms.v2 import functional as TF

from vipflow.encoder_training.cache import FrameCache
from vipflow.encoder_training.errors import TrainingConfigError
from vipflow.encoder_training.sampling import (
    FRAME_LAYOUTS,
    CropBox,
    center_square_box,
    liv_indices,
    random_resized_crop_box,
    vip_indices,
)

AUGMENTATIONS = ("rctraj", "rc", "none")


@dataclass(frozen=True)
class SampleSpec:
    """How samples are drawn: objective (frame layout), output size, augmentation.

    augment: ``rctraj`` = one RandomResizedCrop shared by all frames of a sample (the VIP and LIV
    release setting), ``rc`` = one per frame, ``none`` = the centred square.
    """

    objective: str
    image_size: int
    augment: str = "rctraj"
    crop_scale: tuple[float, float] = (0.2, 1.0)
    liv_whole_video: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.objective not in FRAME_LAYOUTS:
            raise TrainingConfigError(
                f"unknown objective {self.objective!r}; choose one of {', '.join(FRAME_LAYOUTS)}"
            )
        if self.augment not in AUGMENTATIONS:
            raise TrainingConfigError(
                f"unknown augment {self.augment!r}; choose one of {', '.join(AUGMENTATIONS)}"
            )
        if self.image_size < 8:
            raise TrainingConfigError(f"image_size {self.image_size} is too small (minimum 8)")


def sample_rng(seed: int, n: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, n]))


def crop_to_size(frames: torch.Tensor, box: CropBox, size: int) -> torch.Tensor:
    """uint8 (F, 3, H, W) -> uint8 (F, 3, size, size): crop ``box`` and resize (antialiased)."""
    return TF.resized_crop(frames, box.top, box.left, box.height, box.width, [size, size], antialias=True)


def center_frames(video: np.ndarray, size: int) -> torch.Tensor:
    """A whole (T, H, W, 3) video as uint8 (T, 3, size, size), centred square: what evaluation sees."""
    frames = torch.from_numpy(np.ascontiguousarray(video)).permute(0, 3, 1, 2)
    return crop_to_size(frames, center_square_box(*frames.shape[-2:]), size)


class SubTrajectoryDataset(Dataset):
    """Item ``n`` = the n-th sample of the run: ``frames`` uint8 (F, 3, S, S) stacked as
    ``FRAME_LAYOUTS[objective]``, the ``video`` index, and ``tokens`` (LIV: the text, tokenised)."""

    def __init__(
        self,
        cache: FrameCache,
        spec: SampleSpec,
        tokenize: Callable[[list[str]], torch.Tensor] | None = None,
    ) -> None:
        if len(cache) == 0:
            raise TrainingConfigError("no training videos")
        self.cache = cache
        self.spec = spec
        self.tokenize = tokenize

    def _indices(self, length: int, rng: np.random.Generator) -> np.ndarray:
        if self.spec.objective == "liv":
            return liv_indices(length, rng, whole_video=self.spec.liv_whole_video)
        return vip_indices(length, rng)

    def __getitem__(self, n: int) -> dict:
        spec = self.spec
        rng = sample_rng(spec.seed, n)
        v = int(rng.integers(len(self.cache)))
        video = self.cache.video(v)
        frames = torch.from_numpy(video[self._indices(len(video), rng)]).permute(0, 3, 1, 2)
        h, w = frames.shape[-2:]
        if spec.augment == "none":
            out = crop_to_size(frames, center_square_box(h, w), spec.image_size)
        elif spec.augment == "rctraj":
            out = crop_to_size(frames, random_resized_crop_box(h, w, rng, spec.crop_scale), spec.image_size)
        else:
            out = torch.cat(
                [
                    crop_to_size(
                        f[None], random_resized_crop_box(h, w, rng, spec.crop_scale), spec.image_size
                    )
                    for f in frames
                ]
            )
        item = {"frames": out, "video": v}
        if self.tokenize is not None:
            item["tokens"] = self.tokenize([self.cache.texts[v]])[0]
        return item


class StepSampler(Sampler[int]):
    """Global sample numbers for one rank, step by step: at step s the global batch is
    ``[s*G, (s+1)*G)`` and rank r takes ``[s*G + r*b, s*G + (r+1)*b)`` with b = G / world_size."""

    def __init__(
        self, start_step: int, stop_step: int, global_batch: int, rank: int = 0, world_size: int = 1
    ) -> None:
        if global_batch % world_size:
            raise TrainingConfigError(
                f"batch_size {global_batch} must be divisible by the number of processes ({world_size})"
            )
        self.start, self.stop = start_step, stop_step
        self.global_batch = global_batch
        self.local_batch = global_batch // world_size
        self.offset = rank * self.local_batch

    def __iter__(self) -> Iterator[int]:
        for step in range(self.start, self.stop):
            base = step * self.global_batch + self.offset
            yield from range(base, base + self.local_batch)

    def __len__(self) -> int:
        return (self.stop - self.start) * self.local_batch


def seed_worker(worker_id: int) -> None:
    """Seed the global numpy / random RNGs of a worker from torch's per-worker seed, for any
    library code that uses them (our sampling never does)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(
    dataset: SubTrajectoryDataset, sampler: StepSampler, num_workers: int, pin_memory: bool
) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=sampler.local_batch,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        worker_init_fn=seed_worker,
        persistent_workers=False,
        prefetch_factor=4 if num_workers > 0 else None,
    )
