"""Does a faster precision give the same rewards? The agreement gate, and the `auto` precision.

Rewards are what an encoder is for, so agreement is measured on them, not only on embeddings.
For a set of episodes, both the reference (eager fp32) and the candidate embed every frame; the
goal is the mean final embedding of the successful episodes (VIP App. F; all episodes when none
is labelled) and each frame's value is S(frame, goal). The **gate** passes when

* the Spearman correlation of all per-frame values (pooled over episodes) is >= 0.999, and
* VOC moves by at most 0.01. VOC is what the papers define and report (reward-science notes):
  Spearman of values against time on *expert* (successful) episodes, averaged over the set;
  all episodes count when none is labelled.

Reported as well: the largest relative embedding difference (max |Δ| / max |reference|), the
lowest per-episode value Spearman, the largest change of any single episode's VOC, failures
included (a failure that freezes has a plateau of near-equal values, and its VOC is decided by
differences below bf16's resolution), the change in mean bump rate (expert episodes) and, with
both labels, the change in AUROC of final values. `vipflow encoders check` reports all of this.

``auto`` precision uses a built-in **calibration set** (below) and takes the fastest precision
(bench/encoder: bf16 before fp32) that passes; the decision is cached with the compiled models.
int8, chosen by name only, is *quantized* on the calibration set (its activation ranges, at the
model's input size); the synthetic set is kinder to it than real frames, so a user's own episodes
are the test that counts (`vipflow encoders check`).
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from vipflow.encoders.inference import FAST_PRECISIONS, cpu_digest, runtime_version, supported_precisions
from vipflow.metrics import auroc, bump_rate, voc
from vipflow.rewards import step_rewards, values

if TYPE_CHECKING:
    from vipflow.encoders.encoder import Encoder

log = logging.getLogger(__name__)

CALIBRATION_VERSION = 3
CALIBRATION_SIZE = 96  # frame side for encoders that keep the native size (no resize/crop)


@dataclass(frozen=True)
class Gate:
    min_value_spearman: float = 0.999  # pooled per-frame values
    max_abs_delta_voc: float = 0.01  # mean VOC of the expert episodes


GATE = Gate()


@dataclass(frozen=True)
class Agreement:
    """Candidate vs reference over a set of episodes (see the module docstring)."""

    max_rel_diff: float
    value_spearman: float  # pooled over all frames
    min_episode_spearman: float
    delta_voc: float  # mean VOC of the expert episodes (all, if none is labelled)
    max_episode_delta_voc: float  # the largest |change| of one episode's VOC, failures included
    delta_bump_rate: float  # mean bump rate of the expert episodes
    delta_auroc: float | None  # final values, success vs failure; None without both labels
    frames: int
    episodes: int

    def passes(self, gate: Gate = GATE) -> bool:
        spearman_ok = self.value_spearman >= gate.min_value_spearman
        return spearman_ok and abs(self.delta_voc) <= gate.max_abs_delta_voc

    def as_dict(self, gate: Gate = GATE) -> dict:
        return {**asdict(self), "passes_gate": self.passes(gate)}


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    rho = spearmanr(a, b).statistic if len(a) > 1 else np.nan
    return float(rho) if np.isfinite(rho) else float(np.array_equal(a, b))  # constant values: equal or not


def _goal(embeddings: Sequence[np.ndarray], labels: Sequence[str | None]) -> np.ndarray:
    finals = [e[-1] for e, lab in zip(embeddings, labels, strict=True) if lab == "success"]
    return np.mean(finals or [e[-1] for e in embeddings], axis=0)


def agreement(
    reference: Sequence[np.ndarray],
    candidate: Sequence[np.ndarray],
    similarity: str,
    labels: Sequence[str | None] | None = None,
    gamma: float = 0.98,
) -> Agreement:
    """Compare per-episode embeddings (T_i, D) of a candidate path with the reference's."""
    labels = list(labels) if labels is not None else [None] * len(reference)
    ref_v = [values(e, _goal(reference, labels), similarity, gamma) for e in reference]
    cand_v = [values(e, _goal(candidate, labels), similarity, gamma) for e in candidate]
    ref_all, cand_all = np.concatenate(reference), np.concatenate(candidate)
    scale = float(np.abs(ref_all).max()) or 1.0
    delta_auroc = None
    succ = [i for i, lab in enumerate(labels) if lab == "success"]
    fail = [i for i, lab in enumerate(labels) if lab == "failure"]
    if succ and fail:
        delta_auroc = (auroc([cand_v[i][-1] for i in succ], [cand_v[i][-1] for i in fail])
                       - auroc([ref_v[i][-1] for i in succ], [ref_v[i][-1] for i in fail]))
    experts = succ or range(len(reference))

    def mean_delta(metric) -> float:
        deltas = [metric(cand_v[i]) - metric(ref_v[i]) for i in experts if len(ref_v[i]) > 1]
        return float(np.mean(deltas)) if deltas else 0.0

    return Agreement(
        max_rel_diff=float(np.abs(cand_all - ref_all).max() / scale),
        value_spearman=_spearman(np.concatenate(ref_v), np.concatenate(cand_v)),
        min_episode_spearman=min(_spearman(r, c) for r, c in zip(ref_v, cand_v, strict=True)),
        delta_voc=mean_delta(voc),
        max_episode_delta_voc=max(abs(voc(c) - voc(r)) for r, c in zip(ref_v, cand_v, strict=True)),
        delta_bump_rate=mean_delta(lambda v: bump_rate(step_rewards(v))),
        delta_auroc=delta_auroc,
        frames=len(ref_all),
        episodes=len(reference),
    )


def calibration_episodes(size: int | tuple[int, int], length: int = 24) -> tuple[list[np.ndarray], list[str]]:
    """The `auto` gate's calibration set: 6 synthetic episodes of ``length`` frames, ``size``
    square or (height, width).

    A smooth textured scene (low-frequency noise, a lighting gradient) in which a door slides
    open over a differently textured inside while a block moves down the frame. Progress changes
    what the frame shows, not only where (globally pooled encoders barely see a pure
    translation). 4 episodes open the door fully (success); 2 fail: one stops a third of the way,
    one opens half-way and closes again. The block keeps moving, so no two frames are the same.
    Deterministic (fixed seed), so the decision is reproducible.
    """
    height, width = (size, size) if isinstance(size, int) else size
    rng = np.random.default_rng(20_240_613)
    xx = np.linspace(0.0, 1.0, width)[None, :, None]

    def texture() -> np.ndarray:
        coarse = torch.from_numpy(rng.uniform(30, 225, (1, 3, 6, 6)).astype(np.float32))
        smooth = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True)[0]
        return smooth.permute(1, 2, 0).numpy()

    t = np.linspace(0.0, 1.0, length)
    ease = t * t * (3 - 2 * t)  # smooth start and stop, like a hand
    openings = [0.8 * ease] * 4 + [0.27 * ease, 0.5 * np.sin(np.pi * np.minimum(t / 0.8, 1.0)) + 0.1 * t]
    side = max(min(height, width) // 6, 2)
    episodes, labels = [], []
    for i, opening in enumerate(openings):
        outside, inside = texture() * (0.8 + 0.3 * xx), texture() * 0.5
        colour = rng.uniform(0, 255, 3)
        frames = np.empty((length, height, width, 3), np.uint8)
        for k in range(length):
            frame = np.where(xx < opening[k], inside, outside)
            y, x = int(t[k] * (height - side)), int(opening[k] * (width - side))
            frame[y : y + side, x : x + side] = colour
            frames[k] = np.clip(frame, 0, 255)
        episodes.append(frames)
        labels.append("success" if i < 4 else "failure")
    return episodes, labels


def embed_episodes(encoder: Encoder, episodes: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [encoder.embed_images(e) for e in episodes]


def _decide(encoder: Encoder, candidates: Sequence[str], folder: Path) -> None:
    size = encoder.preprocess.crop or CALIBRATION_SIZE
    episodes, labels = calibration_episodes(size)
    reference = embed_episodes(encoder.with_inference("eager", "fp32"), episodes)
    chosen, reports = "fp32", {}
    for precision in candidates:
        found = agreement(reference, embed_episodes(encoder.with_inference(precision=precision), episodes),
                          encoder.similarity, labels)
        reports[precision] = found.as_dict()
        if found.passes():
            chosen = precision
            break
    (folder / "decision.json").write_text(json.dumps({"precision": chosen, "reports": reports}, indent=1))


def choose_precision(encoder: Encoder) -> str:
    """``auto``: the fastest precision that passes the gate on the calibration set, else fp32."""
    candidates = [p for p in FAST_PRECISIONS if p in supported_precisions(encoder.runtime, encoder.device)]
    if not candidates:
        log.info("precision auto -> fp32: runtime %s has no faster precision on %s (bf16 needs native "
                 "support)", encoder.runtime, encoder.device)
        return "fp32"
    key = {"kind": "auto-precision", "fingerprint": encoder.fingerprint,
           "tower": f"{encoder.name}-{encoder.arch}", "runtime": encoder.runtime,
           "version": runtime_version(encoder.runtime), "cpu": cpu_digest(), "candidates": list(candidates),
           "gate": asdict(GATE), "calibration": CALIBRATION_VERSION}
    with tempfile.TemporaryDirectory(prefix="vipflow-auto-") as scratch:
        entry = encoder.compiled_cache.get_or_build(
            key, lambda folder: _decide(encoder, candidates, folder), Path(scratch)
        )
        decision = json.loads((entry / "decision.json").read_text())
    chosen = decision["precision"]
    report = decision["reports"].get(chosen) or next(iter(decision["reports"].values()))
    log.info("precision auto -> %s for %s/%s on %s (calibration: value Spearman %.5f, ΔVOC %+.4f)",
             chosen, encoder.name, encoder.arch, encoder.runtime, report["value_spearman"],
             report["delta_voc"])
    return chosen
