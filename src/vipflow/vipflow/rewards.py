"""Goal-conditioned values and per-step rewards (VIP eq. 4 / LIV eq. 2), and goal construction.

v_t = S(phi(o_t), phi(g)) with S = -||a-b||_2 (VIP, R3M, ResNet) or cos(a,b)/(1-gamma) (LIV);
r_t = v_{t+1} - v_t, so the rewards of an episode telescope to v_T - v_0.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vipflow.recordings import read_frames

if TYPE_CHECKING:
    from vipflow.encoders import Encoder

SIMILARITIES = ("l2", "cosine")


def values(
    embeddings: np.ndarray, goal_embedding: np.ndarray, similarity: str, gamma: float = 0.98
) -> np.ndarray:
    """(T,D) embeddings and a (D,) goal -> (T,) values; higher means closer to the goal."""
    emb = np.asarray(embeddings, dtype=np.float64)
    goal = np.asarray(goal_embedding, dtype=np.float64).reshape(-1)
    if emb.ndim != 2 or emb.shape[1] != goal.shape[0]:
        raise ValueError(f"embeddings {emb.shape} and goal {goal.shape} must be (T,D) and (D,)")
    if not (np.isfinite(emb).all() and np.isfinite(goal).all()):
        raise ValueError("embeddings or goal contain NaN/inf; check the encoder input")
    if similarity == "l2":
        out = -np.linalg.norm(emb - goal, axis=1)
    elif similarity == "cosine":
        if not 0.0 <= gamma < 1.0:
            raise ValueError(f"gamma must be in [0, 1) for cosine values, got {gamma}")
        norms = np.linalg.norm(emb, axis=1) * np.linalg.norm(goal)
        out = (emb @ goal) / np.maximum(norms, 1e-12) / (1.0 - gamma)
    else:
        raise ValueError(f"unknown similarity {similarity!r}; choose one of {SIMILARITIES}")
    return out.astype(np.float32)


def step_rewards(values: np.ndarray) -> np.ndarray:
    """(T,) values -> (T-1,) rewards r_t = v[t+1] - v[t]."""
    v = np.asarray(values, dtype=np.float32)
    if v.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {v.shape}")
    return np.diff(v)


def distance_to_goal(values: np.ndarray) -> np.ndarray:
    """What the papers' reward-curve figures plot: -value (the L2 distance for VIP/R3M,
    -cos/(1-gamma) for LIV)."""
    return -np.asarray(values, dtype=np.float32)


# Goals -----------------------------------------------------------------------------------------


def goal_from_images(encoder: Encoder, images: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Mean embedding of one or more goal images (VIP's real-robot recipe). Accepts one (H,W,3)
    image, a (N,H,W,3) stack, or a list of images of different sizes."""
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = images[None]
    if isinstance(images, np.ndarray):
        embeddings = encoder.embed_images(images)
    else:
        if not images:
            raise ValueError("goal_from_images needs at least one image")
        embeddings = np.concatenate([encoder.embed_images(np.asarray(im)[None]) for im in images])
    return embeddings.mean(axis=0)


def goal_from_text(encoder: Encoder, text: str) -> np.ndarray:
    """Embedding of a sentence such as "fold the towel" (LIV only; others raise TextNotSupportedError)."""
    if not text.strip():
        raise ValueError("goal text is empty")
    return encoder.embed_text([text])[0]


def goal_from_episodes(
    encoder: Encoder, episodes: Sequence[np.ndarray | str | Path], last_k: int = 1
) -> np.ndarray:
    """Mean embedding of the last ``last_k`` frames of each episode (VIP App. F: the mean embedding
    of the demos' final frames). Items are (T,H,W,3) arrays or paths (mp4, frame folder, episode)."""
    if last_k < 1:
        raise ValueError(f"last_k must be >= 1, got {last_k}")
    if not episodes:
        raise ValueError("goal_from_episodes needs at least one episode")
    finals = []
    for ep in episodes:
        frames = read_frames(ep) if isinstance(ep, str | Path) else np.asarray(ep)
        if frames.ndim != 4 or len(frames) == 0:
            raise ValueError(f"episode frames must be (T,H,W,3) with T>0, got shape {frames.shape}")
        finals.append(encoder.embed_images(frames[-last_k:]))
    return np.concatenate(finals).mean(axis=0)
