"""`vipflow train`: offline RWR / BC / AWR policy from recorded episodes.

    vipflow train ~/vipflow_data/close_drawer --encoder vip --encoder-weights vip.pt --tau 1 --out runs/drawer
    vipflow train --task-config config/tasks/close_drawer.yaml --encoder-weights vip.pt
    vipflow train --resume runs/drawer [--steps 30000]

The ROS wrapper (`ros2 run rwr_policy_node train ...`) builds its parser with
``add_train_arguments`` and runs ``run_train``, so both expose exactly the same options.
Every option defaults to None here and is resolved in ``config_from_args`` (explicit option >
task config > built-in default), which is what lets ``--resume`` tell a real override apart
from a default.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

from vipflow.actions import ACTION_SPACES, PROPRIO_FEATURES
from vipflow.cli import fail
from vipflow.cli.encoders import add_inference_arguments
from vipflow.encoders import EncoderError
from vipflow.encoders.families import FAMILIES
from vipflow.episodes import LABELS, EpisodeError
from vipflow.policy.config import RESUME_FREE_FIELDS, TrainConfig
from vipflow.policy.errors import PolicyError
from vipflow.policy.spec import HEADS, TASK_CONDITIONING
from vipflow.policy.trainer import CONFIG_JSON
from vipflow.policy.weights import METHODS, WeightingConfig
from vipflow.video import VideoError

EXIT_INTERRUPTED = 130

# argparse dest -> (TrainConfig field, or "weighting.<field>")
_FIELD = {
    "datasets": "datasets",
    "out": "run_dir",
    "label": "labels",
    "tag": "tags",
    "exclude_tag": "exclude_tags",
    "task": "tasks",
    "encoder": "encoder",
    "encoder_weights": "encoder_weights",
    "encoder_arch": "encoder_arch",
    "runtime": "encoder_runtime",
    "precision": "encoder_precision",
    "device": "device",
    "encode_batch_size": "encode_batch_size",
    "cache_dir": "cache_dir",
    "rate": "rate_hz",
    "action_space": "action_space",
    "proprio": "proprio",
    "task_conditioning": "task_conditioning",
    "goal_image": "goal_images",
    "goal_text": "goal_text",
    "goal_last_frames": "goal_last_frames",
    "gamma": "gamma",
    "method": "weighting.method",
    "tau": "weighting.temperature",
    "weight_norm": "weighting.normalize",
    "weight_clip": "weighting.clip",
    "awr_beta": "weighting.awr_beta",
    "discount": "weighting.discount",
    "value_steps": "weighting.value_steps",
    "hidden": "hidden_sizes",
    "head": "head",
    "lr": "lr",
    "batch_size": "batch_size",
    "steps": "steps",
    "seed": "seed",
    "threads": "num_threads",
    "val_fraction": "val_fraction",
    "eval_every": "eval_every",
    "save_every": "save_every",
    "log_every": "log_every",
    "progress": "progress",
}


def _csv(kind):
    def parse(text: str):
        items = [t.strip() for t in text.split(",") if t.strip()]
        try:
            return tuple(kind(t) for t in items)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {kind.__name__}s, got {text!r}"
            ) from None

    return parse


def _proprio(text: str) -> tuple[str, ...]:
    keys = _csv(str)(text)
    bad = [k for k in keys if k not in PROPRIO_FEATURES]
    if bad:
        raise argparse.ArgumentTypeError(
            f"unknown proprioception {bad}; choose from {sorted(PROPRIO_FEATURES)}"
        )
    return keys


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add every training option to ``parser`` (shared with ``ros2 run rwr_policy_node train``)."""
    d = TrainConfig()
    w = d.weighting
    parser.add_argument(
        "datasets", nargs="*", metavar="DATASET", help="dataset directories and/or single episode directories"
    )
    run = parser.add_argument_group("run")
    run.add_argument(
        "-o", "--out", metavar="RUN_DIR", help="run directory (default: runs/<task>-<method>-<time>)"
    )
    run.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a run from its last checkpoint with its saved config (only --steps, "
        "--eval-every/--save-every/--log-every, --cache-dir, --encode-batch-size and --no-progress "
        "may change)",
    )
    run.add_argument(
        "--task-config",
        metavar="YAML",
        help="task config (config/tasks/*.yaml): dataset, encoder, goal, method, tau, action "
        "space, proprio and rate; explicit options override it",
    )
    sel = parser.add_argument_group("episode selection")
    sel.add_argument(
        "--label",
        action="append",
        choices=LABELS,
        help="keep episodes with this label (repeatable; default: all labels)",
    )
    sel.add_argument(
        "--tag", action="append", help="keep episodes carrying this tag (repeatable: all required)"
    )
    sel.add_argument("--exclude-tag", action="append", help="drop episodes carrying this tag (repeatable)")
    sel.add_argument("--task", action="append", help="keep episodes of this task (repeatable)")
    obs = parser.add_argument_group("observation, action, goal")
    obs.add_argument(
        "--encoder", choices=sorted(FAMILIES), help=f"frozen encoder family (default {d.encoder})"
    )
    obs.add_argument(
        "--encoder-weights",
        metavar="PATH",
        help="official .pt or our .safetensors export (default: the weights folder)",
    )
    obs.add_argument("--encoder-arch", help="backbone (default: the family's, or read from the file)")
    add_inference_arguments(obs, default=None)  # None: TrainConfig's (auto), or the task config's
    obs.add_argument("--device", help=f"device of the encoder (default {d.device}); training runs on CPU")
    obs.add_argument(
        "--encode-batch-size", type=int, help=f"frames per encoder batch (default {d.encode_batch_size})"
    )
    obs.add_argument(
        "--cache-dir",
        help="embedding cache folder, or 'off' (default $VIPFLOW_CACHE or ~/.cache/vipflow/embeddings)",
    )
    obs.add_argument("--rate", type=float, metavar="HZ", help=f"control grid rate (default {d.rate_hz:g})")
    obs.add_argument(
        "--action-space",
        choices=sorted(ACTION_SPACES),
        help="default: the episodes' declared space, else ee_delta",
    )
    obs.add_argument(
        "--proprio",
        type=_proprio,
        metavar="KEYS",
        help=f"comma-separated {sorted(PROPRIO_FEATURES)}, '' for none (default {','.join(d.proprio)})",
    )
    obs.add_argument(
        "--task-conditioning",
        choices=("auto", *TASK_CONDITIONING),
        help="auto (default): one-hot when the selection holds several tasks; text: LIV text "
        "embedding of each task's goal text",
    )
    obs.add_argument(
        "--goal-image",
        action="append",
        metavar="PNG",
        help="goal image(s); the goal is their mean embedding (repeatable)",
    )
    obs.add_argument("--goal-text", help="goal sentence (LIV only)")
    obs.add_argument(
        "--goal-last-frames",
        type=int,
        metavar="N",
        help=f"default goal: mean of the last N frames of each successful demo (default "
        f"{d.goal_last_frames})",
    )
    obs.add_argument("--gamma", type=float, help=f"discount in LIV's cosine value (default {d.gamma})")
    wt = parser.add_argument_group("weighting")
    wt.add_argument(
        "--method",
        choices=METHODS,
        help=f"rwr: exp(tau*R); bc: uniform; awr: exp(A/beta) (default {w.method})",
    )
    wt.add_argument(
        "--tau",
        "--temperature",
        dest="tau",
        type=float,
        help=f"RWR temperature (default {w.temperature}; VIP paper CloseDrawer: 1)",
    )
    wt.add_argument(
        "--no-weight-norm",
        dest="weight_norm",
        action="store_const",
        const=False,
        help="keep raw exp weights (default: normalise to mean 1 over the training set)",
    )
    wt.add_argument(
        "--weight-clip",
        type=float,
        metavar="MAX",
        help="clip weights above MAX after normalisation (default: none for RWR, 20 for AWR)",
    )
    wt.add_argument("--awr-beta", type=float, help=f"AWR temperature (default {w.awr_beta})")
    wt.add_argument("--discount", type=float, help=f"AWR return discount (default {w.discount})")
    wt.add_argument("--value-steps", type=int, help=f"AWR value-baseline steps (default {w.value_steps})")
    opt = parser.add_argument_group("policy and optimisation")
    opt.add_argument(
        "--hidden",
        type=_csv(int),
        metavar="SIZES",
        help=f"MLP hidden sizes (default {','.join(map(str, d.hidden_sizes))})",
    )
    opt.add_argument("--head", choices=HEADS, help=f"default {d.head}")
    opt.add_argument("--lr", type=float, help=f"Adam learning rate (default {d.lr:g})")
    opt.add_argument("--batch-size", type=int, help=f"default {d.batch_size}")
    opt.add_argument("--steps", type=int, help=f"optimiser steps (default {d.steps})")
    opt.add_argument("--seed", type=int, help=f"default {d.seed}; same seed + data -> same weights on CPU")
    opt.add_argument(
        "--threads", type=int, help=f"CPU threads of the training loop (default {d.num_threads})"
    )
    opt.add_argument(
        "--val-fraction", type=float, help=f"episodes held out for validation (default {d.val_fraction})"
    )
    opt.add_argument("--eval-every", type=int, help=f"validation interval in steps (default {d.eval_every})")
    opt.add_argument("--save-every", type=int, help=f"checkpoint interval in steps (default {d.save_every})")
    opt.add_argument("--log-every", type=int, help=f"metrics.csv interval in steps (default {d.log_every})")
    opt.add_argument(
        "--no-progress", dest="progress", action="store_const", const=False, help="no progress bars"
    )
    return parser


def build_train_parser(prog: str = "vipflow train") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    return add_train_arguments(parser)


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train an offline RWR/BC/AWR policy from recorded episodes",
        description=__doc__.split("\n\n")[0],
    )
    add_train_arguments(p)
    p.set_defaults(func=run_train)


def _explicit(args: argparse.Namespace) -> dict[str, object]:
    return {dest: getattr(args, dest) for dest in _FIELD if getattr(args, dest, None) not in (None, [])}


def _task_config_values(path: str) -> dict[str, object]:
    from vipflow.task_config import load_task_config

    tc = load_task_config(path, check_files=False)
    values: dict[str, object] = {
        "datasets": (str(tc.dataset_dir),),
        "encoder": tc.encoder.name,
        "rate_hz": tc.rate_hz,
        "gamma": tc.reward.gamma,
        "action_space": tc.policy.action_space,
        "proprio": tuple(tc.policy.proprio),
        "weighting.method": tc.policy.algorithm,
        "weighting.temperature": tc.policy.tau,
        "goal_last_frames": tc.goal.last_frames,
    }
    if tc.encoder.arch:
        values["encoder_arch"] = tc.encoder.arch
    if tc.encoder.weights:
        values["encoder_weights"] = tc.encoder.weights
    values["encoder_runtime"], values["encoder_precision"] = tc.encoder.runtime, tc.encoder.precision
    if tc.goal.source == "images":
        values["goal_images"] = tuple(str(p) for p in tc.goal_image_paths())
    elif tc.goal.source == "text":
        values["goal_text"] = tc.goal_text
    return values


def _build(values: dict[str, object], base: TrainConfig) -> TrainConfig:
    top = {k: v for k, v in values.items() if not k.startswith("weighting.")}
    weighting = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("weighting.")}
    for key in ("datasets", "labels", "tags", "exclude_tags", "tasks", "goal_images"):
        if key in top:
            top[key] = tuple(str(x) for x in top[key])
    return TrainConfig(
        **{
            **base.to_json(),
            "weighting": WeightingConfig(**{**dataclasses.asdict(base.weighting), **weighting}),
            **top,
        }
    )


def config_from_args(args: argparse.Namespace) -> tuple[TrainConfig, bool]:
    """(config, resume) from parsed options: explicit option > task config > default."""
    explicit = {_FIELD[k]: v for k, v in _explicit(args).items()}
    if args.resume:
        saved_path = Path(args.resume) / CONFIG_JSON
        if not saved_path.is_file():
            raise PolicyError(
                f"{args.resume} is not a run directory (no {CONFIG_JSON}); start a run with --out instead"
            )
        fixed = sorted(k for k in explicit if k not in RESUME_FREE_FIELDS)
        if fixed or args.task_config:
            raise PolicyError(
                f"--resume continues the saved configuration; drop {fixed or ['--task-config']} "
                "or start a new run with --out"
            )
        saved = TrainConfig.from_json(json.loads(saved_path.read_text())["train"])
        return _build({**explicit, "run_dir": str(args.resume)}, saved), True
    values = _task_config_values(args.task_config) if args.task_config else {}
    values.update(explicit)
    # Absolute paths, so a run can be resumed from any working directory.
    for key in ("datasets", "goal_images"):
        if key in values:
            values[key] = tuple(str(Path(p).expanduser().absolute()) for p in values[key])
    for key in ("encoder_weights", "run_dir"):
        if values.get(key):
            values[key] = str(Path(values[key]).expanduser().absolute())
    cfg = _build(values, TrainConfig())
    if not cfg.run_dir:
        name = Path(args.task_config).stem if args.task_config else (cfg.tasks[0] if cfg.tasks else "policy")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        cfg = _build({"run_dir": str(Path(f"runs/{name}-{cfg.weighting.method}-{stamp}").absolute())}, cfg)
    return cfg, False


def run_train(args: argparse.Namespace) -> int:
    from vipflow.policy.pipeline import train

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        cfg, resume = config_from_args(args)
        result = train(cfg, resume=resume)
    except (PolicyError, EpisodeError, EncoderError, VideoError, ValueError) as exc:
        return fail(exc)
    except KeyboardInterrupt:
        print("interrupted before training started (embeddings encoded so far are cached)", file=sys.stderr)
        return EXIT_INTERRUPTED
    state = f"stopped at step {result.step} of {cfg.steps}" if result.interrupted else f"{result.step} steps"
    print(
        f"{result.run_dir}: {state} in {result.wall_s:.1f} s ({result.steps_per_s:.0f} steps/s); "
        f"train loss {result.train_loss}, val loss {result.val_loss}"
    )
    print(
        f"checkpoint: {result.checkpoint}  (load_policy({str(result.run_dir)!r}); "
        f"curves: {result.run_dir / 'training_curve.png'})"
    )
    if result.interrupted:
        print(f"resume with: vipflow train --resume {result.run_dir}")
        return EXIT_INTERRUPTED
    return 0
