"""`vipflow rewards`: score recordings against a goal; per-frame CSV/JSON, metrics and PNG curves.

vipflow rewards demo.mp4 --encoder vip --encoder-weights vip_resnet50.pt --goal-image goal.png --out out/
vipflow rewards ep_000 ep_001 --encoder liv --encoder-weights liv_rn50.pt --goal-text "close the drawer"
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vipflow.cli import fail
from vipflow.cli.options import add_options, from_args
from vipflow.config_schema import REQUIRED, option
from vipflow.data_root import data_path, under_root
from vipflow.durable import OutputError
from vipflow.encoders import Encoder, EncoderError, load_encoder
from vipflow.episodes.errors import EpisodeError
from vipflow.hardware import Frame
from vipflow.live import LiveError, LivePublisher, add_live_arguments, open_live
from vipflow.live.sidecar import sidecar_path, write_reward_sidecar
from vipflow.metrics import auroc, bump_rate, voc
from vipflow.outputs import add_output_mode, prepare_output_dir
from vipflow.plots import LabeledCurve, plot_labeled_curves, plot_reward_curves
from vipflow.policy.goals import goal_from_episodes, goal_from_images, goal_from_text
from vipflow.recordings import open_recording
from vipflow.rewards import step_rewards, values
from vipflow.video import Recording, VideoError, read_image

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
LAST_FRAME = "last_frame"  # goal used when none is given (optimistic: distance 0 at the end)
GOAL = "goal (default: each input's last frame)"


@dataclass(frozen=True)
class RewardsOptions:
    """What `vipflow rewards` scores, against which goal, with which encoder (options derive from it)."""

    inputs: tuple[Path, ...] = option(
        REQUIRED, "mp4 / frame folder / episode directory", positional=True, metavar="INPUT"
    )
    encoder: str = option("vip", "encoder family: vip, r3m, liv or resnet50")
    encoder_weights: Path | None = option(
        None, "official .pt or our .safetensors", deprecated=("--weights",), default_text="the weights folder"
    )
    random_init: bool = option(False, "random weights (smoke tests only)")
    encoder_arch: str | None = option(
        None, "backbone", deprecated=("--arch",), default_text="from the weights file"
    )
    legacy_vip_crop: bool = option(
        False, "released VIP forward: Resize(256)+CenterCrop(224) even on 224x224 frames"
    )
    pil_resize: bool = option(
        False, "resize and crop through PIL like the official READMEs (Resize 256 -> CenterCrop 224 on "
        "uint8), instead of the tensor resize of the models' forward",
    )
    goal_image: tuple[Path, ...] = option(
        (), "goal image (repeatable); several are averaged in embedding space", repeat=True, metavar="IMG",
        group=GOAL,
    )
    goal_text: str | None = option(None, "goal sentence (LIV)", group=GOAL)
    goal_episode: tuple[Path, ...] = option(
        (), "recordings whose last frames define the goal (mean embedding)", metavar="PATH", group=GOAL
    )
    goal_last_frames: int = option(
        1, "last frames per goal episode", deprecated=("--goal-last-k",), bounds="[1, 10000]", group=GOAL
    )
    labels: tuple[str, ...] | None = option(
        None, "set one label per input, for AUROC", choices=("success", "failure", "unlabeled"),
        default_text="episode metadata", flag="--set-labels", deprecated=("--labels",),
    )
    gamma: float = option(0.98, "LIV's cos/(1-gamma) scale", bounds="[0, 1)")
    out: Path = option(None, "output folder", default_text=under_root("rewards"))
    device: str = option("cpu", "cpu or cuda[:N]")
    dtype: str = option("float32", "encoder dtype", choices=tuple(DTYPES))
    encode_batch_size: int = option(
        32, "frames per encoder batch", deprecated=("--batch-size",), bounds="[1, 65536]"
    )
    progress: bool = option(True, "a progress bar per long input", terminal=True)
    sidecar: bool = option(
        False, "episodes: also write EPISODE.rewards.mcap beside each episode (value and reward at each "
        "frame's bag time) to open with the episode in Foxglove; the episode is not touched",
    )

    def __post_init__(self) -> None:
        if self.out is None:  # resolved when the command runs, so $VIPFLOW_DATA / --data-root apply
            object.__setattr__(self, "out", data_path("rewards"))


def register(sub) -> None:
    p = sub.add_parser(
        "rewards",
        help="per-frame values and rewards of recordings against a goal, with metrics and plots",
        description="Score mp4 files, frame folders or episode directories against a goal (images, a "
        "sentence for LIV, or the last frames of goal episodes). Without a goal, each input's last "
        "frame is its goal (optimistic: that frame has distance 0).",
    )
    add_options(p, RewardsOptions)
    add_output_mode(p, resumable=False)  # one pass over the inputs: nothing to continue
    add_live_arguments(p)
    p.set_defaults(func=run)


@dataclass
class Scored:
    name: str
    recording: Recording
    label: str | None
    values: dict[str, np.ndarray]  # goal name -> (T,)
    metrics: dict[str, dict[str, float]]


def _embed(
    encoder: Encoder, rec: Recording, batch_size: int, progress: bool, show: _LiveScoring | None = None
) -> np.ndarray:
    parts = []
    quiet = not progress or rec.length < 2 * batch_size
    with tqdm(total=rec.length, desc=rec.path.name, unit="frame", disable=quiet) as bar:
        for chunk in rec.chunks(4 * batch_size):
            parts.append(encoder.embed_images(chunk, batch_size=batch_size))
            if show is not None:
                show.chunk(chunk, parts[-1])
            bar.update(len(chunk))
    return np.concatenate(parts)


class _LiveScoring:
    """Streams one recording to the live viewer as it is scored: frames at the recording's
    time base, and (with a goal) the value and reward of each frame."""

    def __init__(self, live: LivePublisher, name: str, rec: Recording, goal: tuple[str, np.ndarray] | None,
                 encoder: Encoder, gamma: float) -> None:
        self.live, self.goal, self.encoder, self.gamma = live, goal, encoder, gamma
        self.period_ns = int(1e9 / (rec.fps or 25.0))
        self.index, self.last_value = 0, None
        live.sync_clock(0)
        live.event("episode_start", name, detail=str(rec.path))

    def chunk(self, frames: np.ndarray, embeddings: np.ndarray) -> None:
        vals = None
        if self.goal is not None:
            vals = values(embeddings, self.goal[1], self.encoder.similarity, self.gamma)
        for j, rgb in enumerate(frames):
            ns = self.index * self.period_ns
            self.live.frame(Frame(ns, rgb))
            if vals is not None:
                v = float(vals[j])
                reward = 0.0 if self.last_value is None else v - self.last_value
                self.live.reward(ns, v, reward, frame=self.index, goal=self.goal[0])
                self.last_value = v
            self.index += 1


def _goals(args: RewardsOptions, encoder: Encoder) -> dict[str, np.ndarray]:
    goals: dict[str, np.ndarray] = {}
    if args.goal_image:
        goals["image"] = goal_from_images(encoder, [read_image(p) for p in args.goal_image])
    if args.goal_text is not None:
        goals["text"] = goal_from_text(encoder, args.goal_text)
    if args.goal_episode:
        goals["episodes"] = goal_from_episodes(encoder, args.goal_episode, last_k=args.goal_last_frames)
    return goals


def _metrics(v: np.ndarray) -> dict[str, float]:
    r = step_rewards(v)
    return {
        "voc": voc(v),
        "bump_rate": bump_rate(r),
        "return": float(v[-1] - v[0]),
        "final_value": float(v[-1]),
    }


def _distance_label(encoder: Encoder) -> str:
    return "L2 distance to goal" if encoder.similarity == "l2" else "-cos/(1-γ) to goal"


def _goal_frames(s: Scored, args: RewardsOptions, goal: str) -> tuple[int, ...]:
    """Frames of this input that make up ``goal``: its last frame (no goal given), or its last k
    frames when it is one of the --goal-episode recordings."""
    n = len(s.values[goal])
    if goal == LAST_FRAME:
        return (n - 1,)
    if goal == "episodes" and s.recording.path.resolve() in {p.resolve() for p in args.goal_episode}:
        return tuple(range(max(0, n - args.goal_last_frames), n))
    return ()


def _encoder_info(encoder: Encoder) -> dict[str, str]:
    return {"name": encoder.name, "arch": encoder.arch, "fingerprint": encoder.fingerprint}


def _unique_names(paths: list[Path]) -> list[str]:
    names: list[str] = []
    for i, p in enumerate(paths):
        stem = p.stem if p.is_file() else p.name
        names.append(stem if stem not in names else f"{stem}_{i}")
    return names


def _write_outputs(out: Path, s: Scored, encoder: Encoder, args: RewardsOptions, goals_desc: dict) -> None:
    goals = list(s.values)
    rows = len(next(iter(s.values.values())))
    fps = s.recording.fps
    with open(out / f"{s.name}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["frame", "time_s", *(f"{k}_{g}" for g in goals for k in ("value", "reward"))])
        rewards = {g: step_rewards(v) for g, v in s.values.items()}
        for t in range(rows):  # the reward on row t is earned by the step (t-1) -> t
            cells = []
            for g in goals:
                cells += [f"{s.values[g][t]:.6g}", "" if t == 0 else f"{rewards[g][t - 1]:.6g}"]
            w.writerow([t, f"{t / fps:.4f}" if fps else "", *cells])
    doc = {
        "input": str(s.recording.path),
        "kind": s.recording.kind,
        "frames": rows,
        "fps": fps,
        "label": s.label,
        "encoder": _encoder_info(encoder),
        "similarity": encoder.similarity,
        "gamma": args.gamma if encoder.similarity == "cosine" else None,
        "goals": goals_desc,
        "metrics": s.metrics,
        "goal_frames": {g: list(_goal_frames(s, args, g)) for g in goals},
        "values": {g: v.tolist() for g, v in s.values.items()},
        "rewards": {g: r.tolist() for g, r in rewards.items()},
    }
    (out / f"{s.name}.json").write_text(json.dumps(doc, indent=2))
    plot_reward_curves(
        out / f"{s.name}.png",
        s.values,
        fps=fps,
        title=f"{s.name}: {encoder.name}/{encoder.arch}" + (f" ({s.label})" if s.label else ""),
        distance_label=_distance_label(encoder),
        goal_frames={g: _goal_frames(s, args, g) for g in s.values},
    )


def _summary(scored: list[Scored], goal_names: list[str]) -> dict:
    summary: dict = {
        "inputs": {s.name: {"label": s.label, "metrics": s.metrics} for s in scored},
        "goals": {},
    }
    for g in goal_names:
        vocs = [s.metrics[g]["voc"] for s in scored]
        bumps = [b for s in scored if np.isfinite(b := s.metrics[g]["bump_rate"])]  # T<2 has none
        entry = {"mean_voc": float(np.mean(vocs)), "mean_bump_rate": float(np.mean(bumps)) if bumps else None}
        succ = [s.metrics[g]["final_value"] for s in scored if s.label == "success"]
        fail = [s.metrics[g]["final_value"] for s in scored if s.label == "failure"]
        if succ and fail:
            entry["auroc_final_value"] = auroc(succ, fail)
        summary["goals"][g] = entry
    return summary


def _score_all(args: RewardsOptions, live: LivePublisher | None, overwrite: bool = False) -> int:
    if args.labels is not None and len(args.labels) != len(args.inputs):
        return fail(f"--set-labels has {len(args.labels)} entries for {len(args.inputs)} inputs")
    prepare_output_dir(args.out, overwrite=overwrite, marker="summary.json", what="rewards",
                       datasets=args.inputs, resumable=False)
    recordings = [open_recording(p) for p in args.inputs]  # fail on a bad path before loading a model
    encoder = load_encoder(
        args.encoder,
        args.encoder_weights,
        arch=args.encoder_arch,
        device=args.device,
        dtype=DTYPES[args.dtype],
        random_init=args.random_init,
        legacy_vip_crop=args.legacy_vip_crop,
        pil_resize=args.pil_resize,
    )
    goals = _goals(args, encoder)
    goals_desc = {
        "image": {"kind": "images", "paths": [str(p) for p in args.goal_image]},
        "text": {"kind": "text", "text": args.goal_text},
        "episodes": {
            "kind": "episodes",
            "paths": [str(p) for p in args.goal_episode],
            "last_k": args.goal_last_frames,
        },
    }
    goals_desc = {g: goals_desc[g] for g in goals} or {LAST_FRAME: {"kind": "last frame of each input"}}
    if args.sidecar:
        videos = [str(r.path) for r in recordings if r.frame_stamps_ns is None]
        if videos:
            raise ValueError(f"--sidecar writes beside episodes; not an episode: {', '.join(videos)}")
    args.out.mkdir(parents=True, exist_ok=True)
    scored: list[Scored] = []
    for i, (name, rec) in enumerate(zip(_unique_names(args.inputs), recordings, strict=True)):
        show = None
        if live is not None:
            show = _LiveScoring(live, name, rec, next(iter(goals.items()), None), encoder, args.gamma)
        emb = _embed(encoder, rec, args.encode_batch_size, args.progress, show)
        per_goal = goals or {LAST_FRAME: emb[-1]}
        vals = {g: values(emb, goal, encoder.similarity, args.gamma) for g, goal in per_goal.items()}
        label = args.labels[i] if args.labels else rec.label
        s = Scored(name, rec, label, vals, {g: _metrics(v) for g, v in vals.items()})
        _write_outputs(args.out, s, encoder, args, goals_desc)
        if args.sidecar:
            meta = {"encoder": _encoder_info(encoder), "precision": args.dtype, "device": args.device,
                    "similarity": encoder.similarity, "gamma": args.gamma,
                    "goals": {g: goals_desc[g] for g in vals}, "episode": str(rec.path), "label": label or "",
                    "frames": len(emb)}
            t = rec.frame_stamps_ns
            notes = [(int(t[0]), f"{name}: episode start" + (f" ({rec.goal_text})" if rec.goal_text else "")),
                     (int(t[-1]), f"{name}: episode end ({label or 'unlabeled'})")]
            path = write_reward_sidecar(sidecar_path(rec.path), t, vals, meta, notes)
            print(f"{name}: reward sidecar {path} (open it with the episode in Foxglove)")
        if live is not None:
            live.event("episode_end", name, label=label or "")
        scored.append(s)
        line = "  ".join(f"[{g}] VOC {m['voc']:+.3f} bump {m['bump_rate']:.3f}" for g, m in s.metrics.items())
        print(f"{name}: {len(emb)} frames  {line}  -> {args.out / name}.{{csv,json,png}}")
    summary = _summary(scored, list(goals_desc))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    first_goal = next(iter(goals_desc))
    curves = [LabeledCurve(s.name, s.values[first_goal], s.label, _goal_frames(s, args, first_goal))
              for s in scored]
    plot_labeled_curves(args.out / "summary.png", curves, title=f"all inputs against the {first_goal} goal",
                        fps=scored[0].recording.fps, distance_label=_distance_label(encoder))
    for g, entry in summary["goals"].items():
        extra = f"  AUROC {entry['auroc_final_value']:.3f}" if "auroc_final_value" in entry else ""
        print(f"[{g}] mean VOC {entry['mean_voc']:+.3f}  mean bump rate {entry['mean_bump_rate']}{extra}")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        options = from_args(RewardsOptions, args)
        with open_live(args) as live:
            return _score_all(options, live, overwrite=args.overwrite)
    except (VideoError, EncoderError, EpisodeError, ValueError, LiveError, OutputError) as exc:
        return fail(exc)
