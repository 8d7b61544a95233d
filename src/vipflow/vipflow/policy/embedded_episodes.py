"""Recorded episodes -> ``EpisodeData``: selection, the 25 Hz grid, cached embeddings, goals.

This is the only module of the trainer that touches rosbag2 episodes and the encoder; the rest
works on arrays, so it can be tested and reused (simulator, notebooks) without a dataset.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vipflow.actions import proprio_vector
from vipflow.encoders import TextNotSupportedError
from vipflow.episodes import EpisodeSummary, list_episodes, read_episode
from vipflow.episodes.dataset import is_episode_dir, summarize
from vipflow.policy.cache import EmbeddingCache, hash_arrays
from vipflow.policy.errors import (
    EmptySelectionError,
    GoalError,
    MixedActionSpaceError,
    TaskConditioningError,
)
from vipflow.policy.train_config import TrainConfig
from vipflow.policy.transitions import EpisodeData, require_finite
from vipflow.rewards import goal_from_images, goal_from_text
from vipflow.video import VideoError, read_image

log = logging.getLogger(__name__)

DEFAULT_ACTION_SPACE = "ee_delta"


def _matches(s: EpisodeSummary, cfg: TrainConfig) -> bool:
    meta = s.meta
    assert meta is not None
    return (
        (not cfg.labels or meta.label in cfg.labels)
        and all(t in meta.tags for t in cfg.tags)
        and not any(t in meta.tags for t in cfg.exclude_tags)
        and (not cfg.tasks or meta.task in cfg.tasks)
    )


def select_episodes(cfg: TrainConfig) -> list[EpisodeSummary]:
    """Usable episodes of ``cfg.datasets`` (dataset dirs or episode dirs) passing the filters."""
    if not cfg.datasets:
        raise EmptySelectionError("no dataset given; pass one or more dataset (or episode) directories")
    found: list[EpisodeSummary] = []
    for d in cfg.datasets:
        path = Path(d)
        found += [summarize(path)] if is_episode_dir(path) else list_episodes(path)
    usable = []
    for s in found:
        if s.usable:
            usable.append(s)
        else:
            log.warning(
                "skipping episode %s (%s): %s", s.path, s.status, s.problem or "not usable for training"
            )
    selected = [s for s in usable if _matches(s, cfg)]
    if not selected:
        labels = Counter(s.label for s in usable)
        tags = Counter(t for s in usable for t in (s.meta.tags if s.meta else []))
        tasks = Counter(s.meta.task for s in usable if s.meta)
        raise EmptySelectionError(
            f"no episode matches the selection (labels={list(cfg.labels) or 'any'}, tags={list(cfg.tags)}, "
            f"exclude_tags={list(cfg.exclude_tags)}, tasks={list(cfg.tasks) or 'any'}) among {len(usable)} "
            f"usable episode(s) of {len(found)} found; available labels {dict(labels)}, tags {dict(tags)}, "
            f"tasks {dict(tasks)}; loosen the filters"
        )
    return selected


def resolve_action_space(requested: str | None, episodes: list[EpisodeSummary]) -> str:
    """The one action space of the run; episodes declaring another one are an error, not a guess."""
    declared: dict[str, list[str]] = {}
    for s in episodes:
        if s.meta and s.meta.action_space:
            declared.setdefault(s.meta.action_space, []).append(s.name)
    others = {k: v for k, v in declared.items() if requested is not None and k != requested}
    if others or (requested is None and len(declared) > 1):
        listing = "; ".join(f"{k}: {len(v)} episode(s), e.g. {v[0]}" for k, v in sorted(declared.items()))
        raise MixedActionSpaceError(
            f"episodes declare action spaces {listing}"
            + (f", but the run asks for {requested}" if requested else "")
            + "; select episodes of one action space (--tag/--task/--exclude-tag) or pass the matching "
            "--action-space"
        )
    return requested or next(iter(declared), DEFAULT_ACTION_SPACE)


def load_episode(
    summary: EpisodeSummary, encoder, cache: EmbeddingCache, cfg: TrainConfig, action_space: str
) -> EpisodeData:
    """Read one episode onto the grid and embed its frames (through the cache)."""
    grid = read_episode(summary.path).on_grid(cfg.rate_hz)
    for what, arr in (("joint_pos", grid.joint_pos), ("ee_pose", grid.ee_pose), ("gripper", grid.gripper)):
        require_finite(arr, f"episode {summary.path}: {what} is", "fix the recording or exclude it")
    frames_hash = hash_arrays(grid.frames)
    return EpisodeData(
        name=str(summary.path),
        task=grid.meta.task,
        label=grid.meta.label,
        embeddings=cache.embed(encoder, grid.frames, cfg.encode_batch_size, frames_hash=frames_hash),
        proprio=proprio_vector(cfg.proprio, grid.joint_pos, grid.ee_pose, grid.gripper),
        actions=grid.actions_for(action_space),
        action_space=action_space,
        encoder_fingerprint=encoder.fingerprint,
        content_hash=frames_hash,
        goal_text=grid.meta.goal_text,
    )


def load_episodes(cfg: TrainConfig, encoder, cache: EmbeddingCache) -> list[EpisodeData]:
    selected = select_episodes(cfg)
    space = resolve_action_space(cfg.action_space, selected)
    return [
        load_episode(s, encoder, cache, cfg, space)
        for s in tqdm(selected, desc="episodes", unit="ep", disable=not cfg.progress)
    ]


def task_descriptions(episodes: list[EpisodeData]) -> dict[str, str]:
    """Task -> its language description: the first goal text among its episodes, else the task name."""
    out: dict[str, str] = {}
    for e in episodes:
        if e.goal_text:
            out.setdefault(e.task, e.goal_text)
    for e in episodes:
        out.setdefault(e.task, e.task)
    return out


def embed_texts(encoder, texts: list[str], why: str) -> np.ndarray:
    """Text embeddings for goals (``why="goal"``) or task conditioning; LIV only, named error otherwise."""
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


def explicit_goals(cfg: TrainConfig, encoder, tasks: list[str]) -> dict[str, np.ndarray] | None:
    """Goal from --goal-image (mean embedding) or --goal-text; None: use the demo goals."""
    if not (cfg.goal_images or cfg.goal_text):
        return None
    if len(tasks) > 1:
        raise GoalError(
            f"an explicit goal image/text describes one task, but the selection holds {tasks}; select one "
            "task (--task) or use the default goals from the successful demos of each task"
        )
    if cfg.goal_images:
        try:
            images = [read_image(p) for p in cfg.goal_images]
        except VideoError as e:
            raise GoalError(f"goal image cannot be read: {e}; give PNG or JPEG files") from None
        goal = goal_from_images(encoder, images)
    else:
        goal = embed_texts(encoder, [cfg.goal_text], "goal")[0]
    return {t: np.asarray(goal, np.float32) for t in tasks}
