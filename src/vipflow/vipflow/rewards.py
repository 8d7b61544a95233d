"""Goal-conditioned values and per-step rewards (VIP eq. 4 / LIV eq. 2); goals: ``vipflow.policy.goals``.

v_t = S(phi(o_t), phi(g)) with S = -||a-b||_2 (VIP, R3M, ResNet) or cos(a,b)/(1-gamma) (LIV);
r_t = v_{t+1} - v_t, so the rewards of an episode telescope to v_T - v_0.
"""

from __future__ import annotations

import numpy as np

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
