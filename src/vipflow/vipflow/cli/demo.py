"""`vipflow demo`: the whole workflow on a simulated Franka, no robot needed.

    vipflow demo                                  # slide cabinet, 1-2 min on a 2-core CPU
    vipflow demo --task microwave --out runs/demo_microwave
    vipflow demo --experts 10 --failures 20       # the VIP paper's CloseDrawer mix
    vipflow demo --resume                         # finish an interrupted demo (finished stages are skipped)

Records demos in the MuJoCo kitchen as rosbag2 episodes, scores them with a kitchen VIP encoder
(pretrained on the *other* tasks), trains RWR and BC, runs evaluation rollouts of both, and
prints the success table over --seeds policy seeds (mean ± std, Wilson interval; a row per seed in
report.md). report.md with reward curves, training curves and the table (PNG) lands in --out, with
<task>.yaml (the resolved task config), limits.yaml (the simulator's limits profile) and the exact
`vipflow train` / `vipflow evaluate run` commands that reproduce each stage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vipflow.cli import fail
from vipflow.cli.options import add_options, from_args
from vipflow.config_schema import ConfigError, resume_differences, to_json
from vipflow.demo_config import WorkflowConfig
from vipflow.durable import OutputError, atomic_write_text
from vipflow.evaluation.table import comparison_table
from vipflow.interrupt import exit_code, signal_name, signum_of
from vipflow.live import LiveError, add_live_arguments, open_live
from vipflow.outputs import add_output_mode, prepare_output_dir

DEMO_JSON = "demo.json"  # the resolved WorkflowConfig; `demo --resume` continues only the same one


def register(sub) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the whole workflow in simulation (record, rewards, RWR/BC, evaluation, report)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_options(parser, WorkflowConfig)
    add_output_mode(parser)
    add_live_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = from_args(WorkflowConfig, args)
    except ConfigError as exc:
        return fail(exc)
    try:
        resume = prepare_output_dir(cfg.out_dir, resume=args.resume, overwrite=args.overwrite,
                                    marker=DEMO_JSON, what="demo")
        _record_config(cfg, resume)
    except (OutputError, ConfigError) as exc:
        return fail(exc)
    if cfg.train_encoder and cfg.encoder_weights:
        return fail("give either --encoder-weights or --train-encoder")
    # deferred: the simulator needs mujoco (the optional `sim` extra), and its GL backend must be
    # chosen before anything loads mujoco; `vipflow --help` and the other commands never pay for it.
    from vipflow.sim import configure_gl

    configure_gl()
    from vipflow.sim.report import write_report  # deferred: mujoco, after configure_gl (above)
    from vipflow.sim.workflow import kept_outputs, run_workflow  # deferred: mujoco, after configure_gl

    try:
        with open_live(args) as live:
            result = run_workflow(cfg, live=live)
        report = write_report(result)
    except LiveError as exc:
        return fail(exc)
    except KeyboardInterrupt as exc:  # SIGTERM too (vipflow.interrupt)
        print(f"\n{signal_name(signum_of(exc))}: demo interrupted, so there is no success table (comparing "
              f"unfinished stages would mislead). Kept: {kept_outputs(cfg.out_dir)}", file=sys.stderr)
        return exit_code(signum_of(exc))
    print()
    print(comparison_table(result.ledgers.values()).to_markdown())
    print("\nEach stage by hand (into another --out, or add --overwrite):")
    for stage, command in result.commands:
        print(f"  # {stage}\n  {command}")
    print(f"\nreport: {report} (reward_curves.png, training_curves.png, success_table.png beside it)")
    return 0


def _record_config(cfg: WorkflowConfig, resume: bool) -> None:
    """Store the resolved config as demo.json; on --resume, refuse a different one (ConfigError)."""
    path = Path(cfg.out_dir) / DEMO_JSON
    if resume:
        try:
            diffs = resume_differences(cfg, json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path} cannot be read ({exc}); --overwrite to start again") from None
        if diffs:
            raise ConfigError(f"cannot resume {cfg.out_dir}: the demo was run with other settings "
                              f"({'; '.join(diffs)}); give the same options, or --overwrite")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(to_json(cfg), indent=2) + "\n")
