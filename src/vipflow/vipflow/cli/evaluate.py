"""`vipflow evaluate`: rollouts of a trained policy -> episodes + results ledger -> paper table.

    vipflow evaluate run --policy runs/slide --name VIP-RWR --backend sim --task slide_cabinet \\
        --encoder-weights kitchen.safetensors --goal-image goal.png
    vipflow evaluate run --task-config config/tasks/close_drawer.yaml --policy runs/drawer \\
        --name VIP-RWR --backend franky --robot-ip 172.16.0.2 --encoder-weights vip.pt
    vipflow evaluate paired --policy runs/rwr --name VIP-RWR --policy runs/bc --name VIP-BC \
        --backend sim --task slide_cabinet --encoder-weights kitchen.safetensors --goal-image goal.png
    vipflow evaluate show results/slide_cabinet/VIP-RWR/seed0
    vipflow evaluate table results/*/*/seed*/ledger.json --out results/table   # table.md, table.png, bars.png
    vipflow evaluate table results/slide_cabinet/paired/seed0 --baseline VIP-BC

On hardware the operator is prompted before each rollout (reset the scene) and after it
(s = success, f = failure); Ctrl-C stops the arm safely and ends the session with everything
so far saved. The simulator resets and judges itself. `paired` runs several policies trial by
trial from the same start (the simulator's reset seed; on a robot one scene per trial, photographed,
restored by the operator before each further policy, in a random order the operator is not told).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vipflow.cli import fail
from vipflow.cli.options import add_options, from_args, given, terminal_defaults
from vipflow.config_schema import ConfigError
from vipflow.data_root import data_path, under_root
from vipflow.durable import OutputError, atomic_write_text
from vipflow.encoders import EncoderError
from vipflow.episodes import EpisodeError
from vipflow.evaluation.ledger import Ledger, LedgerError
from vipflow.evaluation.paired import SESSION_JSON, PairedConfig, session_ledgers
from vipflow.evaluation.run import PairedSources, RunOptions, build_paired, build_session
from vipflow.evaluation.session import (
    EvaluationConfig,
)
from vipflow.evaluation.table import comparison_table
from vipflow.hardware import HardwareError
from vipflow.interrupt import exit_code, signal_name
from vipflow.live import LiveError, add_live_arguments, open_live
from vipflow.outputs import add_output_mode, check_output_dir, check_output_file
from vipflow.plots import plot_success_bars
from vipflow.policy import PolicyError
from vipflow.policy.errors import GoalError
from vipflow.runs import RunError
from vipflow.runtime.limits import LimitsError
from vipflow.runtime.timing import describe_clock
from vipflow.task_config import TaskConfigError

_ERRORS = (
    PolicyError, RunError, GoalError, EncoderError, EpisodeError, HardwareError, LimitsError, LedgerError,
    TaskConfigError, ConfigError, FileExistsError, ValueError, LiveError, OutputError,
)
TABLE_FILES = ("table.md", "table.png", "bars.png")  # what `evaluate table` writes into --out


def register(sub) -> None:
    parser = sub.add_parser("evaluate", help="run evaluation rollouts, show ledgers, build the success table",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmds = parser.add_subparsers(dest="evaluate_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    run = cmds.add_parser("run", help="N rollouts of a policy, recorded as episodes, into a ledger")
    add_options(run, RunOptions)
    add_options(run, EvaluationConfig)
    add_output_mode(run)
    add_live_arguments(run)
    run.set_defaults(func=cmd_run)

    paired = cmds.add_parser(
        "paired", help="several policies trial by trial from the same starts (one ledger each + session.json)"
    )
    add_options(paired, PairedSources)
    add_options(paired, PairedConfig)
    add_options(paired, RunOptions, skip=("policy",))
    add_options(paired, EvaluationConfig, skip=("policy_name", "output_dir"))
    add_live_arguments(paired)
    paired.set_defaults(func=cmd_paired)

    show = cmds.add_parser("show", help="print a ledger: success rate, rollouts, timing")
    show.add_argument("ledger", type=Path, help="ledger.json or its directory")
    show.add_argument("--json", action="store_true", help="print the summary as JSON")
    show.set_defaults(func=cmd_show)

    table = cmds.add_parser("table", help="comparison table across policies and seeds (markdown + PNG)")
    table.add_argument("ledgers", nargs="+", type=Path,
                       help="ledger.json files or their folders, or paired session folders (session.json)")
    table.add_argument("--baseline", metavar="NAME",
                       help="paired differences of every policy against NAME (default: every pair)")
    table.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="folder for table.md, table.png and bars.png (success rates with Wilson 95%% "
                       f"whiskers) (default: {under_root('results/table')})")
    table.set_defaults(func=cmd_table)


# -- run ---------------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    try:
        with open_live(args) as live:
            opts = from_args(RunOptions, args)
            flags = terminal_defaults(EvaluationConfig) | given(args, EvaluationConfig)
            session = build_session(opts, flags, resume=args.resume, overwrite=args.overwrite, live=live)
            ledger = session.run()
    except _ERRORS as exc:
        return fail(exc)
    print(ledger.rollout_table_markdown())
    print_summary(ledger)
    print(f"ledger: {session.ledger_path}")
    return _stopped(session.stop_signal, "evaluation",
                    f"{len(ledger.rollouts)} rollout(s) so far are kept in {session.ledger_path} "
                    "(the interrupted one is marked aborted and not counted)")


def _stopped(stop_signal: int | None, what: str, kept: str) -> int:
    """Exit status of a session; when a signal ended it, one line on what was kept (130/143)."""
    if stop_signal is None:
        return 0
    print(f"{signal_name(stop_signal)}: {what} stopped early; the arm was held and the {kept}",
          file=sys.stderr)
    return exit_code(stop_signal)


def cmd_paired(args: argparse.Namespace) -> int:
    try:
        with open_live(args) as live:
            session = build_paired(
                from_args(PairedSources, args), from_args(PairedConfig, args),
                from_args(RunOptions, args, {"policy": ""}),
                terminal_defaults(EvaluationConfig) | given(args, EvaluationConfig), live=live,
            )
            ledgers = session.run()
    except _ERRORS as exc:
        return fail(exc)
    for ledger in ledgers.values():
        print_summary(ledger)
    table = comparison_table(ledgers.values())
    if table.paired:
        print("\n".join(table.paired_markdown()))
    print(f"session: {session.session_path}")
    return _stopped(session.stop_signal, "paired session",
                    f"trials so far are kept in {session.output_dir} (the interrupted rollout is "
                    "marked aborted and not counted); continue it with the same command and --resume")


# -- show / table --------------------------------------------------------------------------------------
def print_summary(ledger: Ledger) -> None:
    s = ledger.summary()
    lo, hi = s["wilson95"]
    rate = "n/a" if s["success_rate"] is None else f"{100 * s['success_rate']:.0f}%"
    print(f"{ledger.policy.get('name')} on {ledger.task} (seed {ledger.seed}): "
          f"{s['successes']}/{s['n']} = {rate} [Wilson 95%: {100 * lo:.0f}-{100 * hi:.0f}%], "
          f"aborted {s['aborted']}")
    t = ledger.timing
    if t:
        lp, fa, enc = t["loop_period_ms"], t["frame_age_ms"], t["encoder_latency_ms"]
        print(f"loop timing on the {describe_clock(t.get('clock'))}: period p50/p95/p99/max "
              f"{lp['p50']}/{lp['p95']}/{lp['p99']}/{lp['max']} ms, deadline misses {t['deadline_misses']}/"
              f"{t['ticks']}, frame age p50/p99 {fa['p50']}/{fa['p99']} ms; encoder compute p50 "
              f"{enc['p50']} ms (monotonic clock)")


def cmd_show(args: argparse.Namespace) -> int:
    try:
        ledger = Ledger.load(args.ledger)
    except LedgerError as exc:
        return fail(exc)
    if args.json:
        report = {"summary": ledger.summary(), "timing": ledger.timing, "safety": ledger.safety}
        print(json.dumps(report, indent=2))
        return 0
    print(ledger.rollout_table_markdown())
    print_summary(ledger)
    return 0


def _ledgers(paths: list[Path]) -> list[Ledger]:
    """Ledgers from ledger files, their folders and paired session folders."""
    out: list[Ledger] = []
    for p in paths:
        is_session = p.name == SESSION_JSON or (p / SESSION_JSON).is_file()
        out += session_ledgers(p) if is_session else [Ledger.load(p)]
    return out


def cmd_table(args: argparse.Namespace) -> int:
    try:
        out = check_output_dir(args.out or data_path("results", "table"))
        md_path, png_path, bars = (check_output_file(out / name, option="--out") for name in TABLE_FILES)
        table = comparison_table(_ledgers(args.ledgers), baseline=args.baseline)
        md = table.to_markdown()
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(md_path, md + "\n")
        table.to_png(png_path)
        bars_path = plot_success_bars(table, bars)
    except (LedgerError, ValueError, OSError) as exc:
        return fail(exc)
    print(md)
    print(f"wrote {md_path}, {png_path} and {bars_path}")
    return 0
