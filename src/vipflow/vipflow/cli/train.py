"""`vipflow train`: offline RWR / BC / AWR policy from recorded episodes.

    vipflow train ~/vipflow_data/datasets/close_drawer --encoder vip --encoder-weights vip.pt --tau 1 \\
        --out runs/drawer
    vipflow train --task-config config/tasks/close_drawer.yaml --encoder-weights vip.pt
    vipflow train --resume runs/drawer [--steps 30000]

Every option is derived from ``vipflow.policy.train_config.TrainConfig`` (``vipflow.cli.options``).
The ROS wrapper (`ros2 run rwr_policy_node train ...`) builds its parser with
``add_train_arguments`` and runs ``run_train``, so both expose exactly the same options. Options
not given stay absent from the namespace and ``config_from_args`` resolves defaults < task
config < flags (or saved run < flags with ``--resume``), which is what lets ``--resume`` tell a
real override apart from a default.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

from vipflow.cli import fail
from vipflow.cli.options import add_options, given, show_defaults, terminal_defaults
from vipflow.config_schema import ConfigError, from_json, resolve, schema_fields, to_flat
from vipflow.data_root import data_path
from vipflow.durable import OutputError
from vipflow.encoders import EncoderError
from vipflow.episodes import EpisodeError
from vipflow.interrupt import exit_code, signal_name, signum_of
from vipflow.outputs import add_output_mode, prepare_output_dir
from vipflow.policy.errors import PolicyError
from vipflow.policy.train import train
from vipflow.policy.train_config import TrainConfig, task_values
from vipflow.runs import CONFIG_JSON, RunError, read_json
from vipflow.task_config import load_task_config
from vipflow.video import VideoError

EXIT_INTERRUPTED = 130
RESUME_FREE = frozenset(n for n, f, _ in schema_fields(TrainConfig) if f.metadata.get("resume") == "free")


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add every training option to ``parser`` (shared with ``ros2 run rwr_policy_node train``): the
    fields of ``TrainConfig``, plus where the run's settings come from."""
    free = ", ".join(sorted(RESUME_FREE - {"run_dir"}))
    add_output_mode(parser, resume_value="RUN_DIR", resume_help="continue the run from its last checkpoint "
                    f"with its saved config (only {free} may change)")
    parser.add_argument(
        "--task-config",
        metavar="YAML",
        help="task config (config/tasks/*.yaml): dataset, encoder, goal, method, tau, action "
        "space, proprio and rate; explicit options override it (default: none)",
    )
    add_options(parser, TrainConfig)
    return parser


def build_train_parser(prog: str = "vipflow train") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    add_train_arguments(parser)
    show_defaults(parser)  # as `vipflow --help` does: every default shown
    return parser


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train an offline RWR/BC/AWR policy from recorded episodes",
        description=__doc__.split("\n\n")[0],
    )
    add_train_arguments(p)
    p.set_defaults(func=run_train)


def _absolute(values: dict[str, object]) -> dict[str, object]:
    """Paths made absolute, so a run can be resumed from any working directory."""
    out = dict(values)
    for key in ("datasets", "goal_images"):
        if key in out:
            out[key] = tuple(str(Path(p).expanduser().absolute()) for p in out[key])
    for key in ("encoder_weights", "run_dir"):
        if out.get(key):
            out[key] = str(Path(out[key]).expanduser().absolute())
    return out


def config_from_args(args: argparse.Namespace) -> tuple[TrainConfig, bool]:
    """(config, resume) from parsed options: defaults < task config (or the saved run) < flags."""
    flags = given(args, TrainConfig)
    if args.resume:
        run_dir = flags.get("run_dir") if args.resume is True else args.resume
        if not run_dir:
            raise PolicyError("--resume needs the run folder: --resume RUN_DIR (or --out RUN_DIR --resume)")
        saved_path = Path(run_dir) / CONFIG_JSON
        if not saved_path.is_file():
            raise PolicyError(
                f"{run_dir} is not a run directory (no {CONFIG_JSON}); start a run with --out instead"
            )
        fixed = sorted(k for k in flags if k not in RESUME_FREE)
        if fixed or args.task_config:
            raise PolicyError(
                f"--resume continues the saved configuration; drop {fixed or ['--task-config']} "
                "or start a new run with --out"
            )
        saved = read_json(saved_path, PolicyError)
        if not isinstance(saved, dict) or "train" not in saved:
            raise PolicyError(f"{saved_path} is not a policy run's config (no 'train' section)")
        stored = to_flat(from_json(TrainConfig, saved["train"], str(saved_path)))
        tty = terminal_defaults(TrainConfig)
        return resolve(TrainConfig, stored, tty, flags, {"run_dir": str(run_dir)}), True
    layers = [task_values(load_task_config(args.task_config, check_files=False))] if args.task_config else []
    layers = [*(_absolute(layer) for layer in layers), terminal_defaults(TrainConfig), _absolute(flags)]
    cfg = resolve(TrainConfig, *layers, where="options")
    if not cfg.run_dir:
        name = Path(args.task_config).stem if args.task_config else (cfg.tasks[0] if cfg.tasks else "policy")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        cfg = replace(cfg, run_dir=str(data_path("runs", f"{name}-{cfg.weighting.method}-{stamp}")))
    return cfg, False


def run_train(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        cfg, resume = config_from_args(args)
        prepare_output_dir(cfg.run_dir, resume=resume, overwrite=args.overwrite, marker=CONFIG_JSON,
                           what="training run", datasets=cfg.datasets)
        result = train(cfg, resume=resume)
    except (PolicyError, RunError, EpisodeError, EncoderError, VideoError, ConfigError, ValueError,
            OutputError) as exc:
        return fail(exc)
    except KeyboardInterrupt as exc:  # SIGTERM too (vipflow.interrupt)
        print(f"{signal_name(signum_of(exc))}: interrupted before training started (embeddings encoded so "
              "far are cached; no checkpoint written)", file=sys.stderr)
        return exit_code(signum_of(exc))
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
        return exit_code(result.stop_signal) if result.stop_signal else EXIT_INTERRUPTED
    return 0
