"""Transitions -> the pre-stacked, normalised tensors the training loop indexes into.

Built once per run: normalisation statistics come from the training episodes only, task
features are appended, weights are computed, and a hash of the final tensors identifies the
data so that a resumed run can prove it continues on exactly the same inputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from vipflow.actions import PROPRIO_FEATURES
from vipflow.policy.cache import hash_arrays
from vipflow.policy.errors import DatasetError, TaskConditioningError
from vipflow.policy.model import torch_threads
from vipflow.policy.policy_config import EncoderRef, Normalization, PolicyConfig, unit_rows
from vipflow.policy.train_config import TrainConfig
from vipflow.policy.transitions import EpisodeData, check_episodes, split_episodes, stack_transitions
from vipflow.policy.values import ValueData
from vipflow.policy.weights import WeightStats, compute_weights


@dataclass
class PreparedData:
    policy: PolicyConfig
    task_table: np.ndarray | None
    train_x: torch.Tensor
    train_y: torch.Tensor
    train_w: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    val_w: torch.Tensor
    weight_stats: WeightStats
    data_hash: str
    summary: dict[str, Any]


def resolve_conditioning(requested: str, tasks: list[str], task_texts: dict[str, np.ndarray] | None) -> str:
    if requested == "auto":
        return "onehot" if len(tasks) > 1 else "none"
    if requested == "none" and len(tasks) > 1:
        raise TaskConditioningError(
            f"the selection holds {len(tasks)} tasks ({tasks}); condition the policy on the task "
            "(--task-conditioning onehot or text) or select one task (--task)"
        )
    if requested == "text" and (task_texts is None or any(t not in task_texts for t in tasks)):
        raise TaskConditioningError(
            "text task conditioning needs a text embedding per task description: use a LIV encoder "
            "(--encoder liv) or --task-conditioning onehot"
        )
    if requested not in ("none", "onehot", "text"):
        raise ValueError(f"task conditioning must be auto, none, onehot or text, got {requested!r}")
    return requested


def prepare(
    episodes: list[EpisodeData],
    goals: dict[str, np.ndarray],
    encoder: EncoderRef,
    cfg: TrainConfig,
    task_texts: dict[str, np.ndarray] | None = None,
    goal_source: str = "demos",
) -> PreparedData:
    """Check, reward, split, normalise and weight; ``task_texts`` maps task -> text embedding."""
    check_episodes(episodes)
    tasks = sorted({e.task for e in episodes})
    conditioning = resolve_conditioning(cfg.task_conditioning, tasks, task_texts)
    proprio_dim = sum(PROPRIO_FEATURES[k] for k in cfg.proprio)
    if proprio_dim != episodes[0].proprio.shape[1]:
        raise DatasetError(
            f"episodes carry {episodes[0].proprio.shape[1]} proprio values but keys {list(cfg.proprio)} "
            f"need {proprio_dim}"
        )
    tr = stack_transitions(episodes, goals, encoder.similarity, cfg.gamma)
    val_episodes = split_episodes(len(episodes), cfg.val_fraction, cfg.seed)
    val = val_episodes[tr.episode_index]
    norm = Normalization.fit(tr.obs[~val], tr.actions[~val])

    if conditioning == "onehot":
        table = np.eye(len(tasks), dtype=np.float32)
    elif conditioning == "text":
        assert task_texts is not None
        table = unit_rows(np.stack([np.asarray(task_texts[t], np.float32).reshape(-1) for t in tasks]))
    else:
        table = None
    features = table[tr.task_index] if table is not None else np.zeros((len(tr.obs), 0), np.float32)
    x = np.concatenate([norm.obs(tr.obs), features], axis=1)
    y = norm.action(tr.actions)
    values = ValueData(
        inputs=x,
        next_inputs=np.concatenate([norm.obs(tr.next_obs), features], axis=1),
        actions=y,
        episode_index=tr.episode_index,
        success_end=tr.success_end,
    )
    with torch_threads(cfg.num_threads):
        w, stats = compute_weights(cfg.weighting, tr.rewards, ~val, values, seed=cfg.seed)
    policy = PolicyConfig(
        encoder=encoder,
        action_space=episodes[0].action_space,
        proprio_keys=tuple(cfg.proprio),
        normalization=norm,
        task_conditioning=conditioning,
        tasks=tuple(tasks) if table is not None else (),
        task_dim=0 if table is None else table.shape[1],
        hidden_sizes=tuple(cfg.hidden_sizes),
        head=cfg.head,
        rate_hz=cfg.rate_hz,
        method=cfg.weighting.method,
        extra={
            "weighting": asdict(cfg.weighting),
            "goal": goal_source,
            "weight_stats": stats.to_json(),
            "trained_tasks": tasks,  # what an unconditioned policy was trained for (evaluation's default)
        },
    )
    summary = {
        "tasks": tasks,
        "transitions": {"train": int((~val).sum()), "val": int(val.sum())},
        "rewards": {
            "mean": float(tr.rewards.mean()),
            "min": float(tr.rewards.min()),
            "max": float(tr.rewards.max()),
            "std_train": float(tr.rewards[~val].std()),
            "scale": stats.reward_scale,
        },
        "episodes": [
            {
                "name": e.name,
                "task": e.task,
                "label": e.label,
                "transitions": len(e.actions),
                "split": "val" if val_episodes[i] else "train",
                "content_hash": e.content_hash,
            }
            for i, e in enumerate(episodes)
        ],
    }
    t = torch.from_numpy
    return PreparedData(
        policy=policy,
        task_table=table,
        train_x=t(x[~val]),
        train_y=t(y[~val]),
        train_w=t(w[~val]),
        val_x=t(x[val]),
        val_y=t(y[val]),
        val_w=t(w[val]),
        weight_stats=stats,
        data_hash=hash_arrays(x, y, w, val),
        summary=summary,
    )
