"""The kitchen encoder: a small VIP encoder pretrained broadly on simulated kitchen video.

Official VIP weights cannot be shipped or downloaded here, so this stands in for VIP's
pretraining on out-of-domain human video (Ego4D): our own VIP objective (:mod:`vipflow.encoder_training`)
on video of every FrankaKitchen task *except the held-out one* (gymnasium-robotics' kitchen has
seven: the four benchmark tasks plus kettle, bottom and top burner, whose scripted motions
live in :mod:`vipflow.sim.experts`), of two kinds, each clip filmed from a randomised camera pose:

- ``expert``: the scripted hands doing each task (noisy, at varying speed);
- ``play``: :class:`~vipflow.sim.experts.PlayMotion`, random reaching, grasping and wrist
  turns near each task's handle (it bumps, drags and opens things, no task in mind).

A clip is cut where the held-out task's object starts to move, so the encoder never sees the
held-out task done. One encoder per held-out task ships in ``vipflow/assets``; the exact
command that reproduces them is::

    python -m vipflow.sim.encoder --all --out src/vipflow/vipflow/assets --clips bench/results/kitchen_clips

(``--clips``: film each task once and reuse the clips.) ``vipflow demo`` loads the shipped file
for its task, or trains one when it is missing. Reward quality on held-out demos and how the
recipe was chosen: docs/simulation.md, "The kitchen encoder".
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vipflow.cli.options import add_options, from_args
from vipflow.demo_config import KitchenEncoderConfig
from vipflow.encoder_training import train_encoder
from vipflow.encoders import Encoder, load_encoder
from vipflow.sim.demos import demo_styles
from vipflow.sim.experts import ExpertStyle, PlayMotion, ScriptedExpert, make_expert
from vipflow.sim.kitchen import KitchenSim
from vipflow.sim.tasks import KITCHEN_TASKS, TASKS, CameraView, get_task

ASSETS = Path(__file__).resolve().parent.parent / "assets"
MOVED = 0.01  # rad or m: the held-out task's object counts as moved beyond this
MIN_CLIP = 10  # frames; shorter remainders of a cut clip are dropped
FILM_SEED = 50  # demo_styles seed base of the filmed starts (recorded demos use 0-4, 10000)


@dataclass
class Clip:
    """One filmed clip: which task, which kind (expert/play), frames and the full ``qpos``."""

    task: str
    kind: str
    frames: np.ndarray  # (T, S, S, 3) uint8
    qpos: np.ndarray  # (T, nq): the objects' joints tell what moved


def asset_name(held_out: str) -> str:
    return f"kitchen_vip_no_{get_task(held_out).name}.safetensors"


def shipped_encoder_path(held_out: str) -> Path:
    """Where the shipped encoder that never saw ``held_out`` lives (may not exist)."""
    return ASSETS / asset_name(held_out)


def random_view(task: str, rng: np.random.Generator) -> CameraView:
    """The task's camera moved at random: ±30° around, 18-42° down, 1.1-1.7 m away, the
    point looked at shifted by up to 10 cm per axis."""
    base = get_task(task).view
    return CameraView(
        lookat=tuple(np.asarray(base.lookat) + rng.uniform(-0.1, 0.1, 3)),
        distance=float(rng.uniform(1.1, 1.7)),
        azimuth=float(base.azimuth + rng.uniform(-30.0, 30.0)),
        elevation=float(rng.uniform(-42.0, -18.0)),
    )


def film(sim: KitchenSim, hand: ScriptedExpert, reset_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames, qpos) of one episode of the task's horizon with ``hand`` moving the arm."""
    sim.reset(reset_seed)
    frames, qpos = [sim.render()], [sim.data.qpos.copy()]
    for _ in range(sim.task.horizon):
        sim.step(hand(sim))
        frames.append(sim.render())
        qpos.append(sim.data.qpos.copy())
    return np.stack(frames), np.stack(qpos)


def film_task(task: str, config: KitchenEncoderConfig, *, progress: bool = True) -> list[Clip]:
    """``expert_videos`` + ``play_videos`` clips of one task, each from its own random view."""
    cfg = config
    index = sorted(KITCHEN_TASKS).index(get_task(task).name)
    rng = np.random.default_rng([cfg.seed, index])
    sim = KitchenSim(task, seed=cfg.seed, image_size=cfg.image_size)
    clips = []
    try:
        experts = demo_styles(cfg.expert_videos, 0, seed=FILM_SEED + 10 * cfg.seed + index)
        plays = demo_styles(cfg.play_videos, 0, seed=FILM_SEED + 10 * cfg.seed + index + 100)
        jobs = [("expert", s) for s in experts] + [("play", s) for s in plays]
        for kind, spec in tqdm(jobs, desc=f"filming {task}", unit="clip", disable=not progress):
            sim.set_view(random_view(task, rng))
            if kind == "expert":
                hand = make_expert(task, spec.style, horizon=sim.task.horizon, seed=spec.seed)
            else:
                hand = PlayMotion(ExpertStyle(target_noise=spec.style.target_noise), seed=spec.seed)
            frames, qpos = film(sim, hand, spec.seed)
            clips.append(Clip(sim.task.name, kind, frames, qpos))
    finally:
        sim.close()
    return clips


def pretraining_videos(clips: list[Clip], held_out: str) -> list[np.ndarray]:
    """The clips an encoder for ``held_out`` may see: other tasks only, each cut before the
    held-out task's object moves (a play clip near the hinge cabinet may nudge the slide door)."""
    task = get_task(held_out)
    videos = []
    for clip in clips:
        if clip.task == task.name:
            continue
        joints = clip.qpos[:, task.qpos_indices]
        moved = np.flatnonzero(np.abs(joints - joints[0]).max(axis=1) > MOVED)
        end = int(moved[0]) if len(moved) else len(clip.frames)
        if end >= MIN_CLIP:
            videos.append(clip.frames[:end])
    return videos


def train_kitchen_encoder(
    videos: list[np.ndarray] | list[Path],
    out_path: str | Path,
    config: KitchenEncoderConfig | None = None,
    *,
    run_dir: str | Path | None = None,
    val_videos: list[np.ndarray] | None = None,
    progress: bool = True,
) -> Encoder:
    """Train a convnet-small VIP encoder on ``videos`` (arrays or episode/dataset paths) and
    export it to ``out_path``."""
    cfg = config or KitchenEncoderConfig()
    out_path = Path(out_path)
    with contextlib.ExitStack() as stack:
        if run_dir is None:  # checkpoints and logs are scratch unless asked for
            run_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="kitchen_vip_"))
        result = _train(videos, val_videos, cfg, Path(run_dir), progress)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.encoder_path, out_path)
    return load_encoder("vip", out_path)


def _train(videos, val_videos, cfg: KitchenEncoderConfig, run_dir: Path, progress: bool):
    return train_encoder(
        videos,
        val_videos=val_videos,
        objective="vip",
        arch="convnet-small",
        hidden_dim=cfg.hidden_dim,
        image_size=cfg.image_size,
        steps=cfg.steps,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        crop_scale=cfg.crop_scale,
        amp=cfg.amp,
        device="cpu",
        seed=cfg.seed,
        cache_dir="memory",
        num_workers=0,
        eval_every=max(cfg.steps // 4, 1),
        checkpoint_every=0,
        out_dir=str(run_dir),
        progress=progress,
    )


def film_all(
    config: KitchenEncoderConfig,
    *,
    skip: str | None = None,
    cache: Path | None = None,
    progress: bool = True,
) -> list[Clip]:
    """Clips of all seven kitchen tasks (but ``skip``). With ``cache``, each task's clips are
    kept there (``clips_<task>_<settings>.npz``) and reused while the filming settings match."""
    clips: list[Clip] = []
    for task in sorted(KITCHEN_TASKS):
        if task == skip:
            continue
        path = None
        if cache is not None:
            key = f"{config.expert_videos}e{config.play_videos}p{config.image_size}px_seed{config.seed}"
            path = Path(cache) / f"clips_{task}_{key}.npz"
        if path is not None and path.is_file():
            clips += load_clips(path)
            continue
        filmed = film_task(task, config, progress=progress)
        if path is not None:
            save_clips(path, filmed)
        clips += filmed
    return clips


def save_clips(path: Path, clips: list[Clip]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for i, clip in enumerate(clips):
        arrays[f"frames_{i}"], arrays[f"qpos_{i}"] = clip.frames, clip.qpos
    meta = np.array([[c.task, c.kind] for c in clips])
    tmp = path.with_name(path.name + ".partial.npz")
    np.savez(tmp, meta=meta, **arrays)
    tmp.replace(path)


def load_clips(path: Path) -> list[Clip]:
    with np.load(path) as z:
        meta = z["meta"]
        return [Clip(str(t), str(k), z[f"frames_{i}"], z[f"qpos_{i}"]) for i, (t, k) in enumerate(meta)]


def pretrain_for(
    held_out: str,
    out_path: str | Path,
    config: KitchenEncoderConfig | None = None,
    *,
    clips: list[Clip] | None = None,
    progress: bool = True,
) -> Encoder:
    """The sim-pretrained encoder for evaluating on ``held_out``: trained on the other tasks.

    ``clips`` (from :func:`film_all`) saves filming again when training several encoders.
    """
    cfg = config or KitchenEncoderConfig()
    held = get_task(held_out).name
    if clips is None:
        clips = film_all(cfg, skip=held, progress=progress)
    videos = pretraining_videos(clips, held)
    return train_kitchen_encoder(videos, out_path, cfg, progress=progress)


def kitchen_encoder(
    task: str,
    *,
    cache_dir: str | Path,
    config: KitchenEncoderConfig | None = None,
    progress: bool = True,
    force_train: bool = False,
) -> tuple[Encoder, Path, bool]:
    """(encoder, weights path, trained_now) for a task: the shipped file, else one trained now."""
    shipped = shipped_encoder_path(task)
    path = Path(cache_dir) / asset_name(task)
    if not force_train:
        for existing in (shipped, path):
            if existing.is_file():
                return load_encoder("vip", existing), existing, False
    return pretrain_for(task, path, config, progress=progress), path, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vipflow.sim.encoder",
        description="Pretrain the kitchen VIP encoders (one per held-out task) on simulated video "
        "of the other kitchen tasks: scripted experts and play, from random camera poses.",
    )
    parser.add_argument("--held-out", action="append", default=[], help="task to hold out (repeatable)")
    parser.add_argument("--all", action="store_true", help=f"one encoder per benchmark task {sorted(TASKS)}")
    parser.add_argument("--out", type=Path, default=ASSETS, help="output directory")
    parser.add_argument("--clips", type=Path, default=None,
                        help="keep the filmed clips here and reuse them on later runs")
    add_options(parser, KitchenEncoderConfig)
    args = parser.parse_args(argv)
    tasks = sorted(TASKS) if args.all else [get_task(t).name for t in args.held_out]
    if not tasks:
        parser.error("give --held-out TASK or --all")
    cfg = from_args(KitchenEncoderConfig, args)
    print(f"config: {asdict(cfg)}", flush=True)
    t0 = time.perf_counter()
    clips = film_all(cfg, skip=tasks[0] if len(tasks) == 1 else None, cache=args.clips)
    print(f"filmed {len(clips)} clips in {time.perf_counter() - t0:.0f} s", flush=True)
    for task in tasks:
        t = time.perf_counter()
        path = args.out / asset_name(task)
        pretrain_for(task, path, cfg, clips=clips)
        size_mb = path.stat().st_size / 1e6
        print(f"wrote {path} ({size_mb:.1f} MB) in {time.perf_counter() - t:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
