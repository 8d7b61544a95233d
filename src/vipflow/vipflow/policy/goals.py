"""Goals: the embedding rewards are measured against, from images, a sentence, episodes or the demos.

One module owns every recipe, so the rewards a reward node shows live, those an evaluation
records, those `vipflow rewards` plots and those a policy is trained on all use the same goal.
It lives in the policy package because the demo goals reuse the trainer's embedding cache and
episode loader: goals depend on the trainer's parts, never the other way round.

* images: the mean embedding of one or more goal images (VIP's real-robot recipe);
* text: the LIV text embedding of a sentence;
* episodes: the mean embedding of the last frame(s) of each given recording (VIP App. F);
* demos: per task, the mean of the last frame(s) of each *successful* demo (VIP App. H.1), from
  embeddings already computed and cached (``EpisodeData`` / the embedding cache), so goal frames
  are never decoded and encoded a second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vipflow.encoders import Encoder, TextNotSupportedError
from vipflow.policy.cache import open_cache
from vipflow.policy.embedded_episodes import load_episode, resolve_action_space, select_episodes
from vipflow.policy.errors import GoalError, TaskConditioningError
from vipflow.policy.train_config import TrainConfig
from vipflow.policy.transitions import EpisodeData
from vipflow.recordings import read_frames
from vipflow.task_config import GOAL_SOURCES, GoalSpec
from vipflow.video import VideoError, read_image


# -- from pixels, text and recordings ------------------------------------------------------------
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


def goal_from_image_files(encoder: Encoder, paths: Sequence[str | Path]) -> np.ndarray:
    """Mean embedding of goal image files; ``GoalError`` names an unreadable one."""
    try:
        images = [read_image(p) for p in paths]
    except VideoError as e:
        raise GoalError(f"goal image cannot be read: {e}; give PNG or JPEG files") from None
    return np.asarray(goal_from_images(encoder, images), np.float32)


def embed_texts(encoder: Encoder, texts: list[str], why: str) -> np.ndarray:
    """Text embeddings for a goal (``why="goal"``) or for task conditioning (``why="task"``); LIV only,
    a named error (``GoalError`` / ``TaskConditioningError``) otherwise."""
    try:
        if why == "goal":
            return goal_from_text(encoder, texts[0])[None]
        return np.asarray(encoder.embed_text(texts), np.float32)
    except TextNotSupportedError as e:
        err = GoalError if why == "goal" else TaskConditioningError
        raise err(
            f"encoder {encoder.name} cannot embed text ({e}); text goals and text task conditioning need a "
            "LIV encoder (--encoder liv)"
        ) from None


# -- from the demos ------------------------------------------------------------------------------
def demo_goals(episodes: list[EpisodeData], last_frames: int = 1) -> dict[str, np.ndarray]:
    """Per task, the mean embedding of the last frame(s) of each successful demo (VIP App. H.1).

    The recipe of :func:`goal_from_episodes`, applied to embeddings the trainer already holds
    (cached), so the goal frames are not decoded and encoded a second time.
    """
    goals = {}
    for task in sorted({e.task for e in episodes}):
        last = [e.embeddings[-last_frames:] for e in episodes if e.task == task and e.label == "success"]
        if not last:
            raise GoalError(
                f"task {task!r} has no episode labelled success among the selected ones, so there is no "
                "demo goal; label the demos as success (vipflow.episodes.edit.relabel), include them "
                "(--label success) or give --goal-image / --goal-text"
            )
        goals[task] = np.concatenate(last).astype(np.float64).mean(axis=0).astype(np.float32)
    return goals


def explicit_goals(cfg: TrainConfig, encoder: Encoder, tasks: list[str]) -> dict[str, np.ndarray] | None:
    """A training run's goal from its goal images (mean embedding) or goal text; None: use the demo goals."""
    if not (cfg.goal_images or cfg.goal_text):
        return None
    if len(tasks) > 1:
        raise GoalError(
            f"an explicit goal image/text describes one task, but the selection holds {tasks}; select one "
            "task (--task) or use the default goals from the successful demos of each task"
        )
    if cfg.goal_images:
        goal = goal_from_image_files(encoder, cfg.goal_images)
    else:
        goal = embed_texts(encoder, [cfg.goal_text or ""], "goal")[0]
    return {t: np.asarray(goal, np.float32) for t in tasks}


# -- from a task's goal spec (reward node, evaluation) ---------------------------------------------
def goal_embedding(
    encoder: Encoder, goal: GoalSpec, *, task: str = "", cache_dir: str | None = None
) -> np.ndarray:
    """The (D,) embedding of ``goal`` with ``encoder``; ``GoalError`` says what is missing.

    ``task`` picks the demos of one task in a multi-task dataset ('' = the dataset's only task).
    """
    if goal.source == "images":
        if not goal.images:
            raise GoalError("goal source 'images' needs goal image files (goal.images); none were given")
        return goal_from_image_files(encoder, goal.images)
    if goal.source == "text":
        if not goal.text:
            raise GoalError("goal source 'text' needs a goal sentence (goal.text); it is empty")
        return embed_texts(encoder, [goal.text], "goal")[0]
    if goal.source != "dataset":
        raise GoalError(f"unknown goal source {goal.source!r}; choose one of {list(GOAL_SOURCES)}")
    if not goal.dataset:
        raise GoalError("goal source 'dataset' needs the dataset directory of the demos (goal.dataset)")
    demos = select_episodes((goal.dataset,), labels=("success",), tasks=(task,) if task else ())
    space = resolve_action_space(None, demos)
    cache = open_cache(cache_dir)
    goals = demo_goals([load_episode(s, encoder, cache, action_space=space) for s in demos], goal.last_frames)
    if len(goals) > 1:
        raise GoalError(
            f"{goal.dataset} holds successful demos of several tasks {sorted(goals)}; set the task parameter"
        )
    return next(iter(goals.values()))
