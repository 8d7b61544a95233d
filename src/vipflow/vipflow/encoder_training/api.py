"""Convenience entry points: train from arrays, paths or sources and get an ``Encoder`` back."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vipflow.encoder_training.config import TrainConfig, configure
from vipflow.encoder_training.errors import TrainingDataError
from vipflow.encoder_training.sources import (
    DEFAULT_EPISODE_LABELS,
    VideoSource,
    array_sources,
    discover_sources,
)
from vipflow.encoder_training.trainer import Trainer, TrainResult, load_trained
from vipflow.encoders.encoder import Encoder

VideoInput = str | Path | np.ndarray | VideoSource


def as_sources(
    videos: VideoInput | Sequence[VideoInput],
    texts: Sequence[str] | None = None,
    episode_labels: Sequence[str] | None = DEFAULT_EPISODE_LABELS,
) -> list[VideoSource]:
    """Arrays ((T, H, W, 3) uint8), paths (video, frame folder, episode, dataset, manifest) or
    sources, alone or in a list, -> sources. ``texts`` annotates in-memory arrays (LIV)."""
    if isinstance(videos, str | Path | np.ndarray | VideoSource):
        videos = [videos]
    arrays = [v for v in videos if isinstance(v, np.ndarray)]
    if arrays and len(arrays) != len(videos):
        raise TrainingDataError("pass either in-memory arrays or paths/sources, not a mix")
    if arrays:
        return array_sources(arrays, texts)
    if texts is not None:
        raise TrainingDataError(
            "texts only annotate in-memory arrays; paths carry their own (manifest, episode)"
        )
    out: list[VideoSource] = []
    for v in videos:
        out.extend([v] if isinstance(v, VideoSource) else discover_sources(v, episode_labels))
    if not out:
        raise TrainingDataError("no training videos given")
    return out


def _outside(sources: list[VideoSource], run_dir: Path) -> list[VideoSource]:
    """Drop anything inside the run folder (its plots and cache), e.g. when it lives in the data folder."""
    run_dir = run_dir.resolve()
    return [s for s in sources if s.path is None or not s.path.resolve().is_relative_to(run_dir)]


def train_encoder(
    videos: VideoInput | Sequence[VideoInput],
    config: TrainConfig | None = None,
    *,
    val_videos: VideoInput | Sequence[VideoInput] | None = None,
    texts: Sequence[str] | None = None,
    val_texts: Sequence[str] | None = None,
    resume: str | Path | None = None,
    **overrides,
) -> TrainResult:
    """Train (or fine-tune) an encoder; returns where the run and the export are.

    ``overrides`` set individual :class:`TrainConfig` fields, e.g. ``steps=500``.
    """
    cfg = configure(config, **overrides)
    labels = cfg.episode_labels
    train = _outside(as_sources(videos, texts, labels), Path(cfg.out_dir))
    val = (
        _outside(as_sources(val_videos, val_texts, labels), Path(cfg.out_dir))
        if val_videos is not None
        else None
    )
    return Trainer(cfg, train, val, resume=resume).fit()


def train_vip(
    videos: VideoInput | Sequence[VideoInput],
    config: TrainConfig | None = None,
    **overrides,
) -> Encoder:
    """Train a VIP encoder and return it loaded from its export (ready for ``embed_images`` and
    for ``vipflow.rewards``). Example, a small kitchen encoder on simulator videos::

        encoder = train_vip(videos, arch="convnet-small", image_size=64, steps=1500,
                            batch_size=32, cache_dir="memory", out_dir="runs/kitchen_vip")
    """
    result = train_encoder(videos, config, **({"objective": "vip"} | overrides))
    return load_trained(result)
