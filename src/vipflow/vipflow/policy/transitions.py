"""Episodes on the control grid -> checked, rewarded transitions (o_t, a_t, R_t).

One ``EpisodeData`` per episode holds what the trainer needs after the grid and the encoder:
per-tick embeddings and proprioception, and the T-1 actions taking tick t to t+1 (from
``vipflow.actions.actions_from_states``). Everything is checked here, before any training
step, so a mixed or broken dataset fails with a named error instead of a silently bad policy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from vipflow.policy.errors import (
    DatasetError,
    EmptySelectionError,
    GoalError,
    MixedActionSpaceError,
    MixedEncoderError,
    NonFiniteDataError,
)
from vipflow.rewards import step_rewards, values


@dataclass
class EpisodeData:
    """One embedded episode on the control grid."""

    name: str
    task: str
    label: str  # success | failure | unlabeled
    embeddings: np.ndarray  # (T, D) float32
    proprio: np.ndarray  # (T, P) float32
    actions: np.ndarray  # (T-1, A) float32, a_t takes tick t to tick t+1
    action_space: str
    encoder_fingerprint: str
    content_hash: str = ""
    goal_text: str = ""


@dataclass
class Transitions:
    """All transitions of a dataset, stacked in episode order."""

    obs: np.ndarray  # (N, D+P) raw embedding ++ proprio at tick t
    next_obs: np.ndarray  # (N, D+P) the same at tick t+1
    actions: np.ndarray  # (N, A)
    rewards: np.ndarray  # (N,) VIP eq. 4 reward of t -> t+1
    task_index: np.ndarray  # (N,) index into the sorted task list
    episode_index: np.ndarray  # (N,)
    success_end: np.ndarray  # (N,) bool: last transition of an episode labelled success


def _group(episodes: list[EpisodeData], key) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for e in episodes:
        groups[key(e)].append(e.name)
    return groups


def _listing(groups: dict[str, list[str]]) -> str:
    return "; ".join(f"{k}: {len(v)} episode(s), e.g. {v[0]}" for k, v in sorted(groups.items()))


def require_finite(arr: np.ndarray, what: str, fix: str) -> None:
    """Raise ``NonFiniteDataError`` naming the first ticks (rows) that hold NaN or inf."""
    bad = ~np.isfinite(np.asarray(arr, np.float64))
    if bad.any():
        rows = np.unique(np.nonzero(bad)[0])
        more = " ..." if len(rows) > 5 else ""
        raise NonFiniteDataError(
            f"{what} NaN or inf at tick(s) {rows[:5].tolist()}{more}; {fix} (e.g. tag it and pass "
            "--exclude-tag)"
        )


def check_episodes(episodes: list[EpisodeData]) -> None:
    """Raise a named error unless the episodes form one consistent, finite training set."""
    if not episodes:
        raise EmptySelectionError("no episodes selected; loosen the --label/--tag/--task filters")
    spaces = _group(episodes, lambda e: e.action_space)
    if len(spaces) > 1:
        raise MixedActionSpaceError(
            f"episodes use different action spaces ({_listing(spaces)}); train on one space: filter with "
            "--tag/--task or pass --action-space matching the episodes' metadata"
        )
    encoders = _group(episodes, lambda e: e.encoder_fingerprint)
    if len(encoders) > 1:
        raise MixedEncoderError(
            f"embeddings come from {len(encoders)} different encoders ({_listing(encoders)}); "
            "embed every episode with the same encoder weights and preprocessing"
        )
    dims = _group(episodes, lambda e: f"embedding {e.embeddings.shape[1:]} proprio {e.proprio.shape[1:]}")
    if len(dims) > 1:
        raise DatasetError(f"episodes disagree in observation layout ({_listing(dims)})")
    for e in episodes:
        t = len(e.embeddings)
        if t < 2:
            raise DatasetError(
                f"episode {e.name} has {t} tick(s) on the control grid; it needs at least 2 "
                "for one transition; drop it or check its streams"
            )
        if len(e.proprio) != t or e.actions.shape[0] != t - 1:
            raise DatasetError(
                f"episode {e.name}: {t} embeddings, {len(e.proprio)} proprio rows and "
                f"{e.actions.shape[0]} actions do not line up (expected T, T, T-1)"
            )
        for what, arr in (
            ("embeddings", e.embeddings),
            ("proprioception", e.proprio),
            ("actions", e.actions),
        ):
            require_finite(arr, f"episode {e.name}: {what} contain", "fix or exclude the episode")
    if sum(len(e.actions) for e in episodes) == 0:
        raise EmptySelectionError("the selected episodes contain no transitions")


def stack_transitions(
    episodes: list[EpisodeData], goals: dict[str, np.ndarray], similarity: str, gamma: float = 0.98
) -> Transitions:
    """Reward every transition against its task's goal and stack everything in episode order."""
    tasks = sorted({e.task for e in episodes})
    missing = [t for t in tasks if t not in goals]
    if missing:
        raise GoalError(f"no goal for task(s) {missing}")
    obs, next_obs, acts, rews, task_idx, ep_idx, ends = [], [], [], [], [], [], []
    for i, e in enumerate(episodes):
        goal = goals[e.task]
        if goal.shape != e.embeddings.shape[1:]:
            raise MixedEncoderError(
                f"goal embedding has shape {goal.shape} but episode {e.name} has {e.embeddings.shape[1:]}; "
                "embed goal and episodes with the same encoder"
            )
        r = step_rewards(values(e.embeddings, goal, similarity, gamma=gamma))
        n = len(e.actions)
        obs.append(np.concatenate([e.embeddings[:-1], e.proprio[:-1]], axis=1))
        next_obs.append(np.concatenate([e.embeddings[1:], e.proprio[1:]], axis=1))
        acts.append(e.actions)
        rews.append(np.asarray(r, np.float64))
        task_idx.append(np.full(n, tasks.index(e.task)))
        ep_idx.append(np.full(n, i))
        ends.append((np.arange(n) == n - 1) & (e.label == "success"))
    return Transitions(
        obs=np.concatenate(obs).astype(np.float32),
        next_obs=np.concatenate(next_obs).astype(np.float32),
        actions=np.concatenate(acts).astype(np.float32),
        rewards=np.concatenate(rews),
        task_index=np.concatenate(task_idx),
        episode_index=np.concatenate(ep_idx),
        success_end=np.concatenate(ends),
    )


def split_episodes(n: int, val_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of validation episodes: a seeded, whole-episode hold-out (never split an episode)."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"validation fraction must be in [0, 1), got {val_fraction}")
    n_val = min(max(round(val_fraction * n), 1 if val_fraction > 0 else 0), n - 1) if n > 1 else 0
    mask = np.zeros(n, bool)
    mask[np.random.default_rng(seed).permutation(n)[:n_val]] = True
    return mask
