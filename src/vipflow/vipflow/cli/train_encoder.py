"""`vipflow train-encoder`: VIP / LIV / LSTD encoder training, from scratch or from official weights.

    vipflow train-encoder ~/videos --objective vip --encoder-arch resnet50 --out runs/vip_ego
    vipflow train-encoder demos/ --objective liv --encoder-weights ~/.liv/resnet50/model.pt --steps 10000
    vipflow train-encoder --resume runs/vip_ego --steps 40000
    torchrun --nproc_per_node 8 -m vipflow.cli.main train-encoder ~/ego4d --batch-size 256 ...

Every option is derived from ``vipflow.encoder_training.TrainConfig`` (``vipflow.cli.options``).
Options that are not given keep the config default, the ``--config`` file's value, or, with
``--resume``, the checkpoint's value.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from vipflow.cli import fail
from vipflow.cli.options import add_options, given, terminal_defaults
from vipflow.config_schema import ConfigError, resolve
from vipflow.durable import OutputError
from vipflow.encoder_training import TrainConfig, TrainingError, train_encoder
from vipflow.encoder_training.checkpoint import load_checkpoint, resolve_checkpoint
from vipflow.encoder_training.distributed import shutdown_distributed
from vipflow.encoders import EncoderError
from vipflow.interrupt import exit_code, signal_name, signum_of
from vipflow.outputs import add_output_mode, prepare_output_dir
from vipflow.runs import CONFIG_JSON, RunError, read_json
from vipflow.video import VideoError

DATA_KEY = "data"  # TrainConfig.extra keys where the CLI remembers its data for --resume
VAL_KEY = "val_data"


def register(sub) -> None:
    p = sub.add_parser(
        "train-encoder",
        help="train or fine-tune a VIP / LIV / LSTD encoder on videos, frame folders, episodes or manifests",
        description=(
            "Train an encoder with the official VIP / LIV objectives (or VIP's LSTD ablation) on mp4 files, "
            "frame folders, recorded episodes, or Ego4D-style (path,len) / LIV-style (directory,text,"
            "num_frames) manifest.csv files. Frames are decoded once into a cache; the run folder gets "
            "checkpoints, metrics.csv, training_curves.png and encoder.safetensors (load it with "
            "`vipflow rewards --encoder <family> --encoder-weights <run>/encoder.safetensors`). Runs "
            "unchanged under torchrun for multi-GPU / multi-node training. See docs/training.md."
        ),
    )
    p.add_argument("data", nargs="*", help="videos, frame folders, episodes, dataset folders or manifest.csv")
    p.add_argument(
        "--val", nargs="+", default=None, metavar="DATA", help="held-out data (default: val_fraction)"
    )
    p.add_argument(
        "--config", type=Path, default=None, help="JSON config, e.g. a run's config.json (default: none)"
    )
    add_output_mode(p, resume_value="RUN", resume_help="continue a run folder or checkpoint with its saved "
                    "config (RUN may name a checkpoint)")
    add_options(p, TrainConfig)
    p.set_defaults(func=run)


def _config_from_args(args: argparse.Namespace) -> tuple[TrainConfig, list[str], list[str] | None]:
    """defaults < --config file or the resumed checkpoint's config < flags."""
    base: dict = {}
    if args.resume is True:  # `--out RUN --resume`
        args.resume = getattr(args, "out_dir", None)
        if not args.resume:
            raise TrainingError("--resume needs the run: --resume RUN (or --out RUN --resume)")
    args.resume = args.resume or None
    if args.resume is not None:
        base = load_checkpoint(args.resume).config
        base["out_dir"] = str(resolve_checkpoint(args.resume).parents[1])  # the run folder, wherever it moved
    elif args.config is not None:
        saved = read_json(args.config, TrainingError)
        base = saved.get("train", saved) if isinstance(saved, dict) else saved  # a run's config.json or plain
    flags, where = given(args, TrainConfig), str(args.config or args.resume or "")
    cfg = resolve(TrainConfig, base, terminal_defaults(TrainConfig), flags, where=where)
    data = [str(d) for d in args.data] or cfg.extra.get(DATA_KEY, [])
    val = [str(v) for v in args.val] if args.val else cfg.extra.get(VAL_KEY)
    if not data:
        raise TrainingError("no training data: give videos, folders, episodes or a manifest.csv")
    cfg.extra = cfg.extra | {DATA_KEY: data, VAL_KEY: val}
    return cfg, data, val


def run(args: argparse.Namespace) -> int:
    try:
        cfg, data, val = _config_from_args(args)
        if args.resume is None and not (args.overwrite and int(os.environ.get("RANK", "0")) > 0):
            # under torchrun only rank 0 deletes (--overwrite); every rank refuses a non-empty folder
            prepare_output_dir(cfg.out_dir, overwrite=args.overwrite, marker=CONFIG_JSON,
                               what="encoder training run")
        result = train_encoder(data, cfg, val_videos=val, resume=args.resume)
    except (TrainingError, RunError, ConfigError, EncoderError, VideoError, FileNotFoundError,
            OutputError) as e:
        return fail(e)
    except KeyboardInterrupt as exc:  # SIGTERM too (vipflow.interrupt)
        print(f"{signal_name(signum_of(exc))}: interrupted before training started (no checkpoint written)",
              file=sys.stderr)
        return exit_code(signum_of(exc))
    finally:
        shutdown_distributed()
    if result.stop_signal is not None:
        if result.is_main:
            print(f"{signal_name(result.stop_signal)}: stopped at step {result.steps}; checkpoint kept at "
                  f"{result.checkpoint} (no encoder export yet). Continue with: vipflow train-encoder "
                  f"--resume {result.run_dir}", file=sys.stderr)
        return exit_code(result.stop_signal)
    if not result.is_main:
        return 0
    final = result.final_metrics
    quality = (
        f"held-out VOC {final['val_voc']:.3f}, bump rate {final['val_bump_rate']:.3f}"
        if final
        else "no validation"
    )
    print(f"trained {result.steps} steps: {quality}")
    print(f"encoder: {result.encoder_path}")
    print(f"curves:  {result.run_dir / 'training_curves.png'}")
    print(f"use it:  vipflow rewards VIDEO --encoder {result.encoder_name} "
          f"--encoder-weights {result.encoder_path}")
    return 0
