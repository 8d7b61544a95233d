"""What a policy was trained with, read back from its run's ``config.json``.

`vipflow evaluate run` takes the encoder weights and the camera image size from here unless told
otherwise, and warns when an override differs: a policy run on other weights or other image
sizes than it was trained on behaves differently, and nothing else would say so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vipflow.episodes.dataset import summarize
from vipflow.runs import CONFIG_JSON


@dataclass(frozen=True)
class TrainedWith:
    """The recorded settings (None: not recorded, or the run's config is not found)."""

    config_path: Path | None = None
    encoder_weights: str | None = None
    image_size: int | None = None  # side of the (square) training frames


def _run_config(checkpoint: Path) -> Path | None:
    """``config.json`` of the run holding ``checkpoint`` (the checkpoint, its run, or its run's run)."""
    for folder in (checkpoint, *list(checkpoint.parents)[:3]):
        if (folder / CONFIG_JSON).is_file():
            return folder / CONFIG_JSON
    return None


def trained_with(checkpoint: str | Path) -> TrainedWith:
    """Read what the policy at ``checkpoint`` (a loaded policy's folder) was trained with."""
    path = _run_config(Path(checkpoint))
    if path is None:
        return TrainedWith()
    try:
        saved = json.loads(path.read_text())
        train, episodes = saved["train"], saved["resolved"]["episodes"]
    except (OSError, ValueError, KeyError, TypeError):
        return TrainedWith(path)
    size = None
    for record in episodes[:1]:
        meta = summarize(Path(record["name"])).meta
        camera = meta.camera if meta is not None else {}
        if camera.get("width") and camera.get("width") == camera.get("height"):
            size = int(camera["width"])
    return TrainedWith(path, train.get("encoder_weights"), size)
