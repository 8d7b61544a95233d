"""Reward quality on held-out videos during training: VOC and bump rate.

Each held-out video is embedded through the encoder's inference path (``embed_images``: eval
mode, the export's preprocessing), its last frame is the goal (image goal, as in VIP's reward
curves), and the values/rewards/metrics come from ``vipflow.rewards`` and ``vipflow.metrics``,
so the numbers logged here are the numbers ``vipflow rewards`` reports for the exported encoder.
For LIV, the text annotation is also used as a goal (``val_voc_text``).
"""

from __future__ import annotations

import numpy as np

from vipflow.encoder_training.cache import FrameCache
from vipflow.encoders.encoder import Encoder
from vipflow.metrics import bump_rate, voc
from vipflow.rewards import step_rewards, values

MAX_FRAMES = 64  # frames per held-out video (evenly spaced), to keep validation cheap


def evaluate_videos(
    encoder: Encoder, videos: FrameCache, gamma: float = 0.98, max_frames: int = MAX_FRAMES
) -> dict:
    """Mean VOC and bump rate over ``videos`` (plus text-goal VOC for LIV videos with text)."""
    vocs, bumps, text_vocs = [], [], []
    for i in range(len(videos)):
        frames = videos.video(i)
        idx = np.unique(np.linspace(0, len(frames) - 1, min(max_frames, len(frames))).round().astype(int))
        emb = encoder.embed_images(np.asarray(frames[idx]))
        v = values(emb, emb[-1], encoder.similarity, gamma)
        vocs.append(voc(v))
        bumps.append(bump_rate(step_rewards(v)))
        text = videos.texts[i]
        if text and encoder.similarity == "cosine":
            goal = encoder.embed_text([text])[0]
            text_vocs.append(voc(values(emb, goal, encoder.similarity, gamma)))
    out = {"val_voc": float(np.mean(vocs)), "val_bump_rate": float(np.mean(bumps)), "val_videos": len(vocs)}
    if text_vocs:
        out["val_voc_text"] = float(np.mean(text_vocs))
    return out
