"""Recorded episodes -> ``EpisodeData``: selection, the 25 Hz grid, cached embeddings.

This is the only module of the trainer that touches rosbag2 episodes and the encoder; the rest
works on arrays, so it can be tested and reused (simulator, notebooks) without a dataset.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from vipflow.actions import proprio_vector
from vipflow.episodes import EpisodeError, EpisodeSummary, list_episodes, read_episode
from vipflow.episodes.dataset import is_episode_dir, summarize
from vipflow.policy.cache import EmbeddingCache, hash_arrays
from vipflow.policy.errors import (
    EmptySelectionError,
    MixedActionSpaceError,
)
from vipflow.policy.train_config import TrainConfig
from vipflow.policy.transitions import EpisodeData, require_finite
from vipflow.progress import progress

log = logging.getLogger(__name__)

DEFAULT_ACTION_SPACE = "ee_delta"
DEFAULT_PROPRIO = TrainConfig.__dataclass_fields__["proprio"].default


def select_episodes(
    datasets: tuple[str, ...],
    *,
    labels: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    exclude_tags: tuple[str, ...] = (),
    tasks: tuple[str, ...] = (),
) -> list[EpisodeSummary]:
    """Usable episodes of ``datasets`` (dataset dirs or episode dirs) with one of ``labels``, every
    tag of ``tags``, none of ``exclude_tags`` and one of ``tasks`` (an empty filter keeps all)."""

    def matches(s: EpisodeSummary) -> bool:
        meta = s.meta
        assert meta is not None
        return (
            (not labels or meta.label in labels)
            and all(t in meta.tags for t in tags)
            and not any(t in meta.tags for t in exclude_tags)
            and (not tasks or meta.task in tasks)
        )

    if not datasets:
        raise EmptySelectionError("no dataset given; pass one or more dataset (or episode) directories")
    found: list[EpisodeSummary] = []
    for d in datasets:
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
    selected = [s for s in usable if matches(s)]
    if not selected:
        labels = Counter(s.label for s in usable)
        tags = Counter(t for s in usable for t in (s.meta.tags if s.meta else []))
        tasks = Counter(s.meta.task for s in usable if s.meta)
        raise EmptySelectionError(
            f"no episode matches the selection (labels={list(labels) or 'any'}, tags={list(tags)}, "
            f"exclude_tags={list(exclude_tags)}, tasks={list(tasks) or 'any'}) among {len(usable)} "
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
    summary: EpisodeSummary,
    encoder,
    cache: EmbeddingCache,
    *,
    rate_hz: float = 25.0,
    proprio: tuple[str, ...] = DEFAULT_PROPRIO,
    action_space: str = DEFAULT_ACTION_SPACE,
    batch_size: int = 32,
) -> EpisodeData:
    """Read one episode onto the grid and embed its frames (through the cache)."""
    grid = read_episode(summary.path).on_grid(rate_hz)
    for what, arr in (("joint_pos", grid.joint_pos), ("ee_pose", grid.ee_pose), ("gripper", grid.gripper)):
        require_finite(arr, f"episode {summary.path}: {what} is", "fix the recording or exclude it")
    frames_hash = hash_arrays(grid.frames)
    return EpisodeData(
        name=str(summary.path),
        task=grid.meta.task,
        label=grid.meta.label,
        embeddings=cache.embed(encoder, grid.frames, batch_size, frames_hash=frames_hash),
        proprio=proprio_vector(proprio, grid.joint_pos, grid.ee_pose, grid.gripper),
        actions=grid.actions_for(action_space),
        action_space=action_space,
        encoder_fingerprint=encoder.fingerprint,
        content_hash=frames_hash,
        goal_text=grid.meta.goal_text,
    )


def load_episodes(cfg: TrainConfig, encoder, cache: EmbeddingCache) -> list[EpisodeData]:
    """The run's selection of episodes, on its grid, embedded (through the cache)."""
    selected = select_episodes(
        cfg.datasets, labels=cfg.labels, tags=cfg.tags, exclude_tags=cfg.exclude_tags, tasks=cfg.tasks
    )
    space = resolve_action_space(cfg.action_space, selected)
    grid = {"rate_hz": cfg.rate_hz, "proprio": cfg.proprio, "batch_size": cfg.encode_batch_size}
    named = {Path(d).resolve() for d in cfg.datasets}
    loaded, skipped = [], []
    for s in progress(selected, "episodes", enabled=cfg.progress, unit="ep"):
        try:
            loaded.append(load_episode(s, encoder, cache, action_space=space, **grid))
        except EpisodeError as exc:
            if s.path.resolve() in named:  # the command is about this very episode: refuse
                raise
            log.warning("skipping episode %s: %s: %s", s.path, type(exc).__name__, exc)
            skipped.append(f"{s.name} ({type(exc).__name__})")
    if not loaded:
        raise EmptySelectionError(
            f"none of the {len(selected)} selected episode(s) could be loaded: {', '.join(skipped[:5])}; run "
            "`vipflow episodes validate` on the dataset"
        )
    if skipped:
        log.warning("%d damaged episode(s) skipped: %s", len(skipped), ", ".join(skipped))
    return loaded


def task_descriptions(episodes: list[EpisodeData]) -> dict[str, str]:
    """Task -> its language description: the first goal text among its episodes, else the task name."""
    out: dict[str, str] = {}
    for e in episodes:
        if e.goal_text:
            out.setdefault(e.task, e.goal_text)
    for e in episodes:
        out.setdefault(e.task, e.task)
    return out
