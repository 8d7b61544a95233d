"""Reward-quality metrics that need no RL (reward-science.md §2): VOC, bump rate, AUROC."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata, spearmanr


def voc(values: np.ndarray, nan_as_zero: bool = True) -> float:
    """Value-order correlation: Spearman rho between per-frame values and frame index (GVL).

    Undefined for constant values or fewer than 2 frames; GVL counts those as 0 in aggregates,
    which is what ``nan_as_zero`` does (pass False to get NaN and decide yourself).
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(v) < 2 or np.ptp(v) == 0 or not np.isfinite(v).all():
        return 0.0 if nan_as_zero else float("nan")
    return float(spearmanr(np.arange(len(v)), v).statistic)


def bump_rate(rewards: np.ndarray) -> float:
    """Fraction of steps whose reward is negative (distance to the goal rose); lower is better.

    Zero rewards are not bumps. NaN for an empty sequence (VIP drops such clips; use np.nanmean).
    """
    r = np.asarray(rewards, dtype=np.float64).reshape(-1)
    return float(np.mean(r < 0)) if len(r) else float("nan")


def auroc(success_scores: np.ndarray, failure_scores: np.ndarray) -> float:
    """P(score_success > score_failure) + 1/2 P(tie), via the Mann-Whitney rank sum (average ranks
    give ties exactly 1/2). Needs at least one sequence of each label."""
    pos = np.asarray(success_scores, dtype=np.float64).reshape(-1)
    neg = np.asarray(failure_scores, dtype=np.float64).reshape(-1)
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError(f"AUROC needs both labels: got {len(pos)} success and {len(neg)} failure scores")
    if not (np.isfinite(pos).all() and np.isfinite(neg).all()):
        raise ValueError("AUROC scores contain NaN/inf")
    ranks = rankdata(np.concatenate([pos, neg]))
    rank_sum = ranks[: len(pos)].sum()
    return float((rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))
