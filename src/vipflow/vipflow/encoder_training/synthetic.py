"""A toy video world for smoke tests, benchmarks and first runs without data.

A red square drifts in a straight line from a random start to its goal (the last frame) while
green squares jump to new random places every frame over a noisy background. An untrained
encoder is dominated by the jumping distractors, so its values rank the frames at a VOC of about
0.1 (the goal frame itself is the only frame it gets right); learning to track the red square
brings VOC close to 1. This is what the acceptance test and ``bench/train_vip`` train on.
"""

from __future__ import annotations

import numpy as np


def drifting_square_video(
    rng: np.random.Generator,
    frames: int = 20,
    size: int = 32,
    square: int = 6,
    distractors: int = 6,
    noise: float = 10.0,
    min_travel: float = 16.0,
) -> np.ndarray:
    """One (frames, size, size, 3) uint8 video; its last frame is the goal."""
    hi = size - square - 1
    if hi <= 1 or min_travel >= np.hypot(hi - 1, hi - 1):
        raise ValueError(f"size {size} leaves no room for a {square}px square to travel {min_travel}px")
    while True:
        start, goal = rng.uniform(1, hi, 2), rng.uniform(1, hi, 2)
        if np.linalg.norm(goal - start) >= min_travel:
            break
    out = np.empty((frames, size, size, 3), np.uint8)
    for t in range(frames):
        img = 128.0 + rng.normal(0.0, noise, (size, size, 3))
        for _ in range(distractors):
            y, x = rng.integers(0, size - square, 2)
            img[y : y + square, x : x + square] = (0, 255, 0)
        y, x = (start + (goal - start) * t / (frames - 1)).round().astype(int)
        img[y : y + square, x : x + square] = (255, 0, 0)
        out[t] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def drifting_square_videos(n: int, seed: int = 0, **kwargs) -> list[np.ndarray]:
    """``n`` independent videos (see :func:`drifting_square_video` for the options)."""
    rng = np.random.default_rng(seed)
    return [drifting_square_video(rng, **kwargs) for _ in range(n)]
