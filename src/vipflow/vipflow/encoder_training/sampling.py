"""Which frames one training sample uses, and where it is cropped.

Index distributions follow the official loaders (reference-models §7). All randomness comes from
a ``numpy.random.Generator`` the caller derives from (seed, global sample number), so a sample is
the same whichever worker, rank or resumed run draws it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vipflow.encoder_training.errors import TrainingConfigError, TrainingDataError

# Frames per sample and their order, per objective.
FRAME_LAYOUTS: dict[str, tuple[str, ...]] = {
    "vip": ("start", "goal", "k", "k+1"),
    "lstd": ("start", "goal", "k", "k+1"),
    "liv": ("start", "end", "k", "k+1", "text"),
}
MIN_FRAMES = 3  # VIP draws start from U{0..L-3}


def vip_indices(length: int, rng: np.random.Generator) -> np.ndarray:
    """``[start, end, k, k+1]``: start ~ U{0..L-3}, end ~ U{start+1..L-1}, k ~ U{start..end-1}."""
    if length < MIN_FRAMES:
        raise TrainingDataError(f"a video has {length} frames; VIP sampling needs at least {MIN_FRAMES}")
    start = int(rng.integers(0, length - 2))
    end = int(rng.integers(start + 1, length))
    k = int(rng.integers(start, end))
    return np.array([start, end, k, k + 1])


def liv_indices(
    length: int, rng: np.random.Generator, whole_video: bool = True, alpha: float = 0.95
) -> np.ndarray:
    """``[start, end, k, k+1, text]`` as LIV's loader draws them.

    ``whole_video`` (LIV's custom/finetune datasets): start = 0, end = text = L-1,
    k ~ U{0..L-2}. Otherwise (LIV's EPIC-KITCHENS mode): start/end/k as VIP and the text frame
    ~ U{floor(alpha*L)-1..L-1}.
    """
    if length < MIN_FRAMES:
        raise TrainingDataError(f"a video has {length} frames; LIV sampling needs at least {MIN_FRAMES}")
    if whole_video:
        k = int(rng.integers(0, length - 1))
        return np.array([0, length - 1, k, k + 1, length - 1])
    start, end, k, k1 = vip_indices(length, rng)
    text = int(rng.integers(max(int(alpha * length) - 1, 0), length))
    return np.array([start, end, k, k1, text])


@dataclass(frozen=True)
class CropBox:
    top: int
    left: int
    height: int
    width: int


def random_resized_crop_box(
    height: int,
    width: int,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.2, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> CropBox:
    """The box torchvision's ``RandomResizedCrop.get_params`` would pick, drawn from ``rng``.

    Same algorithm (10 tries of area ~ U(scale), log-aspect ~ U(log ratio), then a centre crop
    clamped to ``ratio``); re-stated so that the randomness comes from the per-sample generator
    instead of torch's global one.
    """
    if not (0 < scale[0] <= scale[1] <= 1):
        raise TrainingConfigError(f"crop scale {scale} must satisfy 0 < min <= max <= 1")
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(*log_ratio))
        w = round(math.sqrt(target_area * aspect))
        h = round(math.sqrt(target_area / aspect))
        if 0 < w <= width and 0 < h <= height:
            return CropBox(int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w)
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif in_ratio > ratio[1]:
        h, w = height, round(height * ratio[1])
    else:
        w, h = width, height
    return CropBox((height - h) // 2, (width - w) // 2, h, w)


def center_square_box(height: int, width: int) -> CropBox:
    """The largest centred square: what evaluation and ``augment="none"`` see."""
    side = min(height, width)
    return CropBox((height - side) // 2, (width - side) // 2, side, side)
