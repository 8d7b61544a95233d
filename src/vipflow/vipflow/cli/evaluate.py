"""`vipflow evaluate`: rollouts of a trained policy -> episodes + results ledger -> paper table.

    vipflow evaluate run --policy runs/slide --name VIP-RWR --backend sim --task slide_cabinet \\
        --encoder-weights kitchen.safetensors --goal-image goal.png
    vipflow evaluate run --task-config config/tasks/close_drawer.yaml --policy runs/drawer \\
        --name VIP-RWR --backend franky --robot-ip 172.16.0.2 --encoder-weights vip.pt
    vipflow evaluate paired --policy runs/rwr --name VIP-RWR --policy runs/bc --name VIP-BC \
        --backend sim --task slide_cabinet --encoder-weights kitchen.safetensors --goal-image goal.png
    vipflow evaluate show results/slide_cabinet/VIP-RWR/seed0
    vipflow evaluate table results/*/*/seed*/ledger.json --out results/table
    vipflow evaluate table results/slide_cabinet/paired/seed0 --baseline VIP-BC

On hardware the operator is prompted before each rollout (reset the scene) and after it
(s = success, f = failure); Ctrl-C stops the arm safely and ends the session with everything
so far saved. The simulator resets and judges itself. `paired` runs several policies trial by
trial from the same start (the simulator's reset seed; on a robot one scene per trial, photographed,
restored by the operator before each further policy, in a random order the operator is not told).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from vipflow.cli import fail
from vipflow.cli.options import add_options, from_args, given, terminal_defaults
from vipflow.config_schema import REQUIRED, ConfigError, option
from vipflow.durable import OutputError, atomic_write_text
from vipflow.encoders import EncoderError, load_encoder
from vipflow.episodes import EpisodeError
from vipflow.evaluation.backend import Backend, open_backend
from vipflow.evaluation.ledger import Ledger, LedgerError
from vipflow.evaluation.operator import ConsoleOperator
from vipflow.evaluation.paired import SESSION_JSON, PairedConfig, PairedSession, paired_dir, session_ledgers
from vipflow.evaluation.session import (
    EvaluationConfig,
    EvaluationSession,
    Goal,
    evaluation_from_task,
    results_dir,
)
from vipflow.evaluation.table import comparison_table
from vipflow.hardware import HardwareError
from vipflow.hardware.factory import make_spec
from vipflow.interrupt import exit_code, signal_name
from vipflow.live import LiveError, add_live_arguments, open_live
from vipflow.outputs import check_output_dir, check_output_file, check_output_stem
from vipflow.plots import plot_success_bars
from vipflow.policy import LoadedPolicy, PolicyError, load_policy
from vipflow.policy.errors import GoalError
from vipflow.policy.goals import goal_embedding
from vipflow.runs import RunError
from vipflow.runtime.limits import LimitsError, load_limits
from vipflow.task_config import GoalSpec, TaskConfigError, load_task_config

# --backend names a robot driver of vipflow.hardware.factory; the camera that goes with it:
BACKEND_CAMERAS = {"sim": "sim", "franky": "realsense", "fake": "fake"}
BACKENDS = tuple(BACKEND_CAMERAS)
_ERRORS = (
    PolicyError, RunError, GoalError, EncoderError, EpisodeError, HardwareError, LimitsError, LedgerError,
    TaskConfigError, ConfigError, FileExistsError, ValueError, LiveError, OutputError,
)
FRANKY = "franky backend"


@dataclass(frozen=True)
class RunOptions:
    """What `evaluate run` evaluates and on what; the session's own settings are EvaluationConfig's."""

    policy: str = option(REQUIRED, "policy run dir, checkpoint dir or file")
    task_config: Path | None = option(None, "task YAML (config/tasks/*.yaml) giving defaults")
    backend: str | None = option(
        None, "sim, franky (libfranka, no ROS), or fake (a dry run on fake hardware)", choices=BACKENDS,
        default_text="sim for a sim task config",
    )
    encoder_weights: str | None = option(
        None, "weights of the policy's encoder (.pt or .safetensors)",
        default_text="the task config's, else the weights folder",
    )
    goal_image: tuple[str, ...] = option((), "goal image for rewards (repeatable)", repeat=True)
    goal_dataset: str | None = option(
        None, "demo dataset whose successful demos' last frames are the goal for rewards"
    )
    rewards: bool = option(True, "record /reward against the goal (--no-rewards: without)")
    limits: Path | None = option(
        None, "safety limits YAML", default_text="the task config's, else conservative built-ins"
    )
    image_size: int = option(224, "sim camera size in pixels", bounds="[8, 4096]")
    robot_ip: str | None = option(None, "FCI address of the robot (set in Desk)", group=FRANKY)
    dynamics: float = option(0.1, "relative dynamics factor", bounds="(0, 1]", group=FRANKY)
    camera_serial: str | None = option(None, "RealSense serial", group=FRANKY, default_text="the only one")
    perception: str = option(
        "process", "encoder in its own process or a thread", choices=("process", "thread"), group=FRANKY
    )
    rt_priority: int = option(80, "SCHED_FIFO priority of the loop (0: off)", bounds="[0, 99]", group=FRANKY)


def register(sub) -> None:
    parser = sub.add_parser("evaluate", help="run evaluation rollouts, show ledgers, build the success table",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmds = parser.add_subparsers(dest="evaluate_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    run = cmds.add_parser("run", help="N rollouts of a policy, recorded as episodes, into a ledger")
    add_options(run, RunOptions)
    add_options(run, EvaluationConfig)
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
    table.add_argument("--out", type=Path, default=Path("results/table"),
                       help="writes OUT.md, OUT.png (table) and OUT_bars.png (Wilson 95%% whiskers)")
    table.set_defaults(func=cmd_table)


# -- run ---------------------------------------------------------------------------------------------
def _run(args: argparse.Namespace, build):
    """``build(args, live)`` a session with the live viewer open and run it: (session, its result), or
    (None, exit code) after a named error."""
    try:
        with open_live(args) as live:
            session = build(args, live)
            return session, session.run()
    except _ERRORS as exc:
        return None, fail(exc)


def cmd_run(args: argparse.Namespace) -> int:
    session, ledger = _run(args, build_session)
    if session is None:
        return ledger
    print(ledger.rollout_table_markdown())
    print_summary(ledger)
    print(f"ledger: {session.ledger_path}")
    if session.stop_signal is not None:
        print(f"{signal_name(session.stop_signal)}: evaluation stopped early; the arm was held and the "
              f"{len(ledger.rollouts)} rollout(s) so far are kept in {session.ledger_path} (the interrupted "
              "one is marked aborted and not counted)", file=sys.stderr)
        return exit_code(session.stop_signal)
    return 0


def build_session(args: argparse.Namespace, live=None) -> EvaluationSession:
    opts = from_args(RunOptions, args)
    flags = terminal_defaults(EvaluationConfig) | given(args, EvaluationConfig)
    setup = _Setup(opts, flags)
    name = flags.get("policy_name") or Path(opts.policy).expanduser().resolve().name
    check_output_dir(flags.get("output_dir") or results_dir(setup.task, name, setup.seed), option="--out")
    policy = load_policy(opts.policy)  # before the backend: a bad policy never touches the robot
    return setup.session(setup.backend(), policy, opts.policy, flags.get("policy_name", ""),
                         flags.get("output_dir"), live)


class _Setup:
    """What `evaluate run` and `evaluate paired` share: the task config, the task, limits, the
    backend, and per policy its encoder (loaded once per encoder), goal and session."""

    def __init__(self, opts: RunOptions, flags: dict) -> None:
        self.opts, self.flags = opts, flags
        self.tc = load_task_config(opts.task_config) if opts.task_config else None
        self.task = flags.get("task") or (self.tc.task if self.tc else None)
        if not self.task:
            raise ValueError("name the task (--task or --task-config)")
        self.backend_name = opts.backend or ("sim" if self.tc and self.tc.kind == "sim" else None)
        if self.backend_name is None:
            raise ValueError("choose --backend sim or franky (franka_ros2 runs through the ROS policy node)")
        self.weights = opts.encoder_weights
        if self.weights is None and self.tc is not None and self.tc.encoder.weights:
            self.weights = os.path.expanduser(self.tc.encoder.weights)
        self.limits = self.tc.safety_limits() if self.tc and not opts.limits else load_limits(opts.limits)
        self.seed = flags.get("seed", 0)
        self._encoders: dict[tuple, tuple] = {}  # (name, arch) -> (encoder, goal, factory)

    def backend(self) -> Backend:
        return _backend(self.backend_name, self.opts, self.task, self.seed)

    def _encoder(self, ref) -> tuple:
        key = (ref.name, ref.arch)
        if key not in self._encoders:
            encoder = load_encoder(ref.name, self.weights, arch=ref.arch)
            goal = _goal(self.opts, self.flags.get("goal_text", ""), self.tc, encoder, self.task) \
                if self.opts.rewards else None
            # the recipe of the encoder process (process perception)
            factory = functools.partial(load_encoder, ref.name, self.weights, arch=ref.arch)
            self._encoders[key] = (encoder, goal, factory)
        return self._encoders[key]

    def session(
        self, backend: Backend, policy: LoadedPolicy, policy_path: str, name: str, output_dir, live=None
    ) -> EvaluationSession:
        encoder, goal, factory = self._encoder(policy.config.encoder)
        policy.check_encoder(encoder)
        f = self.flags
        cfg, info = evaluation_from_task(
            self.task, policy, policy_path, encoder, task_config=self.tc, name=name, output_dir=output_dir,
            encoder_weights=self.weights, seed=self.seed, rollouts=f.get("rollouts"),
            horizon=f.get("horizon"), rate_hz=f.get("rate_hz"), goal_text=f.get("goal_text"),
            image_format=f.get("image_format", "raw"),
        )
        cfg = replace(cfg, progress=f["progress"])
        return EvaluationSession(backend, encoder, policy, cfg, ConsoleOperator(), limits=self.limits,
                                 goal=goal, encoder_info=info,
                                 realtime_priority=self.opts.rt_priority or None, encoder_factory=factory,
                                 live=live)


@dataclass(frozen=True)
class PairedSources:
    """The policies of `evaluate paired`, each with its table name."""

    policies: tuple[str, ...] = option(
        REQUIRED, "policy run dir, checkpoint dir or file (repeat: one per policy)", flag="--policy",
        repeat=True,
    )
    names: tuple[str, ...] = option(
        (), "the table column of each --policy, in the same order (repeat)", flag="--name", repeat=True,
        default_text="the policy dirs' names",
    )


def build_paired(args: argparse.Namespace, live=None) -> PairedSession:
    sources = from_args(PairedSources, args)
    paired = from_args(PairedConfig, args)
    opts = from_args(RunOptions, args, {"policy": ""})
    flags = terminal_defaults(EvaluationConfig) | given(args, EvaluationConfig)
    names = sources.names or tuple(Path(p).expanduser().resolve().name for p in sources.policies)
    if len(names) != len(sources.policies):
        raise ValueError(
            f"give one --name per --policy ({len(sources.policies)} policies, {len(names)} names)"
        )
    setup = _Setup(opts, flags)
    out = check_output_dir(paired.output_dir or paired_dir(setup.task, setup.seed), option="--out")
    policies = [load_policy(p) for p in sources.policies]  # all before the backend opens
    backend = setup.backend()
    arms = [setup.session(backend, policy, p, n, out / n, live)
            for policy, p, n in zip(policies, sources.policies, names, strict=True)]
    return PairedSession(arms, ConsoleOperator(), out, order=paired.order, resume=paired.resume,
                         progress=flags["progress"])


def _goal(args: RunOptions, goal_text: str, tc, encoder, task: str) -> Goal:
    """The goal rewards are measured against: explicit options, else the task config's goal."""
    if args.goal_image:
        spec = GoalSpec(source="images", images=args.goal_image)
    elif goal_text:
        spec = GoalSpec(source="text", text=goal_text)
    elif args.goal_dataset:
        spec = GoalSpec(source="dataset", dataset=args.goal_dataset)
    elif tc is not None:
        spec = tc.resolved_goal()
    else:
        raise ValueError(
            "rollouts record rewards against a goal: pass --goal-image, --goal-text or --goal-dataset "
            "(or --task-config), or --no-rewards"
        )
    return Goal(goal_embedding(encoder, spec, task=task), encoder.similarity, spec.describe())


def _backend(name: str, args: RunOptions, task: str, seed: int) -> Backend:
    """The backend named by --backend (a robot driver of vipflow.hardware.factory) with its camera."""
    if name == "franky" and not args.robot_ip:
        raise ValueError("--backend franky needs --robot-ip (the FCI address set in Desk)")
    options = {"task": task, "seed": seed, "image_size": args.image_size, "robot_ip": args.robot_ip,
               "relative_dynamics_factor": args.dynamics, "serial": args.camera_serial}
    camera = make_spec(BACKEND_CAMERAS[name], **options)
    return open_backend(make_spec(name, **options), camera, perception=args.perception)


def cmd_paired(args: argparse.Namespace) -> int:
    session, ledgers = _run(args, build_paired)
    if session is None:
        return ledgers
    for ledger in ledgers.values():
        print_summary(ledger)
    table = comparison_table(ledgers.values())
    if table.paired:
        print("\n".join(table.paired_markdown()))
    print(f"session: {session.session_path}")
    if session.stop_signal is not None:
        print(f"{signal_name(session.stop_signal)}: paired session stopped early; the arm was held and the "
              f"trials so far are kept in {session.output_dir} (the interrupted rollout is marked aborted "
              "and not counted); continue it with the same command and --resume", file=sys.stderr)
        return exit_code(session.stop_signal)
    return 0


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
        print(f"loop period p50/p95/p99/max {lp['p50']}/{lp['p95']}/{lp['p99']}/{lp['max']} ms, "
              f"deadline misses {t['deadline_misses']}/{t['ticks']}, encoder p50 {enc['p50']} ms, "
              f"frame age p50/p99 {fa['p50']}/{fa['p99']} ms")


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
        md_path, png_path = check_output_stem(args.out, (".md", ".png"))
        bars = check_output_file(args.out.with_name(args.out.name + "_bars.png"), option="--out")
        table = comparison_table(_ledgers(args.ledgers), baseline=args.baseline)
        md = table.to_markdown()
        md_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(md_path, md + "\n")
        table.to_png(png_path)
        bars_path = plot_success_bars(table, bars)
    except (LedgerError, ValueError, OSError) as exc:
        return fail(exc)
    print(md)
    print(f"wrote {md_path}, {png_path} and {bars_path}")
    return 0
