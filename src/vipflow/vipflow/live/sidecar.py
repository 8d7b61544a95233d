"""Reward sidecars: one MCAP file per episode with the value and reward at each frame's time.

Opened in Foxglove together with the episode's own MCAP, the reward curve plays in sync with
the camera, because every message is logged at the bag time of the frame it scores. The
episode itself is only read, never written. Metadata record ``vipflow.rewards`` says how the
numbers were made (encoder and fingerprint, precision, similarity, gamma, goal).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vipflow.live import topics as T
from vipflow.rewards import step_rewards

SIDECAR_SUFFIX = ".rewards.mcap"
METADATA_NAME = "vipflow.rewards"


def sidecar_path(episode_dir: Path) -> Path:
    """``data/episode_0003`` -> ``data/episode_0003.rewards.mcap`` (beside the episode, not in it)."""
    episode_dir = Path(episode_dir)
    return episode_dir.with_name(episode_dir.name + SIDECAR_SUFFIX)


def reward_topic(goal: str, first: bool) -> str:
    """The first goal's curve is ``/vipflow/reward`` (what the layouts plot); others get their own topic."""
    return T.REWARD if first else f"{T.REWARD}/{goal}"


def write_reward_sidecar(
    path: Path, frame_stamps_ns: np.ndarray, values: Mapping[str, np.ndarray], metadata: Mapping[str, Any],
    notes: Sequence[tuple[int, str]] = (),
) -> Path:
    """Write ``values`` (goal name -> (T,) values, one per frame) at ``frame_stamps_ns`` (bag time),
    and ``notes`` ((stamp_ns, text): e.g. the episode's start and its label at the end) as
    ``foxglove.Log`` messages for the layouts' status log. Non-string ``metadata`` values are stored
    as JSON.
    """
    import foxglove
    from foxglove.channels import LogChannel
    from foxglove.messages import Log, LogLevel, Timestamp

    stamps = np.asarray(frame_stamps_ns, dtype=np.int64)
    for goal, v in values.items():
        if len(v) != len(stamps):
            raise ValueError(f"goal {goal!r}: {len(v)} values for {len(stamps)} frame stamps")
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    context = foxglove.Context()
    with foxglove.open_mcap(tmp, allow_overwrite=True, context=context) as writer:
        channels = {
            goal: foxglove.Channel(reward_topic(goal, i == 0), schema=T.REWARD_SCHEMA, context=context)
            for i, goal in enumerate(values)
        }
        for goal, v in values.items():
            r = np.concatenate([[0.0], step_rewards(np.asarray(v, dtype=np.float64))])
            for i, (ns, value, reward) in enumerate(zip(stamps.tolist(), v, r, strict=True)):
                channels[goal].log({"timestamp": T.stamp(ns), "value": float(value), "reward": float(reward),
                                    "frame": i, "goal": goal}, log_time=ns)
        log = LogChannel(T.LOG, context=context)
        for ns, text in notes:
            log.log(Log(timestamp=Timestamp(ns // 1_000_000_000, ns % 1_000_000_000), level=LogLevel.Info,
                        message=text, name="vipflow"), log_time=ns)
        writer.write_metadata(METADATA_NAME, {
            k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in metadata.items()
        })
    tmp.replace(path)
    return path
