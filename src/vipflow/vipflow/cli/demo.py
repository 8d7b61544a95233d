"""`vipflow demo`: the whole workflow on a simulated Franka, no robot needed.

    vipflow demo                                  # slide cabinet, 1-2 min on a 2-core CPU
    vipflow demo --task microwave --out runs/demo_microwave
    vipflow demo --experts 10 --failures 20       # the VIP paper's CloseDrawer mix

Records demos in the MuJoCo kitchen as rosbag2 episodes, scores them with a kitchen VIP encoder
(pretrained on the *other* tasks), trains RWR and BC, runs evaluation rollouts of both, and
prints the success table; report.md with reward curves, training curves and the table (PNG)
lands in --out.
"""

from __future__ import annotations

import argparse
import sys

from vipflow.cli import fail
from vipflow.cli.options import add_options, from_args
from vipflow.config_schema import ConfigError
from vipflow.demo_config import WorkflowConfig
from vipflow.durable import OutputError
from vipflow.evaluation.table import comparison_table
from vipflow.interrupt import exit_code, signal_name, signum_of
from vipflow.live import LiveError, add_live_arguments, open_live
from vipflow.outputs import check_output_dir


def register(sub) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the whole workflow in simulation (record, rewards, RWR/BC, evaluation, report)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_options(parser, WorkflowConfig)
    add_live_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = from_args(WorkflowConfig, args)
    except ConfigError as exc:
        return fail(exc)
    try:
        check_output_dir(cfg.out_dir, must_be_empty=True)
    except OutputError as exc:
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
    print(f"\nreport: {report} (reward_curves.png, training_curves.png, success_table.png beside it)")
    return 0
