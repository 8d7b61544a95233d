"""Goal embeddings for live rewards and evaluation rollouts: images, a sentence, or the demos.

The recipes are the trainer's own (``vipflow.policy``): the mean embedding of goal images, the
LIV text embedding of a sentence, or the mean embedding of the last frame(s) of each successful
demo in a dataset (VIP App. H.1), through the same embedding cache. So the values and rewards a
reward node shows live, and those an evaluation records, are measured against exactly the goal
the policy was trained with.
"""

from __future__ import annotations

import numpy as np

from vipflow.policy.embedded_episodes import explicit_goals, load_episodes
from vipflow.policy.errors import GoalError
from vipflow.policy.train import open_cache
from vipflow.policy.train_config import TrainConfig
from vipflow.policy.transitions import demo_goals
from vipflow.task_config import GOAL_SOURCES, GoalSpec


def goal_embedding(encoder, goal: GoalSpec, *, task: str = "", cache_dir: str | None = None) -> np.ndarray:
    """The (D,) embedding of ``goal`` with ``encoder``; ``GoalError`` says what is missing.

    ``task`` picks the demos of one task in a multi-task dataset ('' = the dataset's only task).
    """
    if goal.source == "images":
        if not goal.images:
            raise GoalError("goal source 'images' needs goal image files (goal.images); none were given")
        return explicit_goals(TrainConfig(goal_images=tuple(goal.images)), encoder, ["goal"])["goal"]
    if goal.source == "text":
        if not goal.text:
            raise GoalError("goal source 'text' needs a goal sentence (goal.text); it is empty")
        return explicit_goals(TrainConfig(goal_text=goal.text), encoder, ["goal"])["goal"]
    if goal.source != "dataset":
        raise GoalError(f"unknown goal source {goal.source!r}; choose one of {list(GOAL_SOURCES)}")
    if not goal.dataset:
        raise GoalError("goal source 'dataset' needs the dataset directory of the demos (goal.dataset)")
    cfg = TrainConfig(
        datasets=(goal.dataset,),
        labels=("success",),
        tasks=(task,) if task else (),
        goal_last_frames=goal.last_frames,
        progress=False,
        cache_dir=cache_dir,
    )
    goals = demo_goals(load_episodes(cfg, encoder, open_cache(cfg)), goal.last_frames)
    if len(goals) > 1:
        raise GoalError(
            f"{goal.dataset} holds successful demos of several tasks {sorted(goals)}; set the task parameter"
        )
    return next(iter(goals.values()))
