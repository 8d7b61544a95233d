"""`vipflow evaluate`: rollouts of a trained policy -> episodes + results ledger -> paper table.

    vipflow evaluate run --policy runs/slide --name VIP-RWR --backend sim --task slide_cabinet \\
        --encoder-weights kitchen.safetensors --goal-image goal.png
    vipflow evaluate run --task-config config/tasks/close_drawer.yaml --policy runs/drawer \\
        --name VIP-RWR --backend franky --robot-ip 172.16.0.2 --encoder-weights vip.pt
    vipflow evaluate show results/slide_cabinet/VIP-RWR/seed0
    vipflow evaluate table results/*/*/seed*/ledger.json --out results/table

On hardware the operator is prompted before each rollout (reset the scene) and after it
(s = success, f = failure); Ctrl-C stops the arm safely and ends the session with everything
so far saved. The simulator resets and judges itself.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from pathlib import Path

from vipflow.cli import fail
from vipflow.cli.encoders import add_inference_arguments
from vipflow.encoders import EncoderError, load_encoder
from vipflow.episodes import EpisodeError
from vipflow.evaluation.backend import Backend, open_backend
from vipflow.evaluation.ledger import Ledger, LedgerError
from vipflow.evaluation.operator import ConsoleOperator
from vipflow.evaluation.session import EvaluationSession, Goal, evaluation_from_task
from vipflow.evaluation.table import comparison_table
from vipflow.goals import goal_embedding
from vipflow.hardware import HardwareError
from vipflow.hardware.factory import make_spec
from vipflow.live import LiveError, add_live_arguments, open_live
from vipflow.plots import plot_success_bars
from vipflow.policy import PolicyError, load_policy
from vipflow.policy.errors import GoalError
from vipflow.runtime.limits import LimitsError, load_limits
from vipflow.task_config import EncoderSpec, GoalSpec, TaskConfigError, load_task_config

# --backend names a robot driver of vipflow.hardware.factory; the camera that goes with it:
BACKEND_CAMERAS = {"sim": "sim", "franky": "realsense", "fake": "fake"}
BACKENDS = tuple(BACKEND_CAMERAS)
_ERRORS = (
    PolicyError, GoalError, EncoderError, EpisodeError, HardwareError, LimitsError, LedgerError,
    TaskConfigError, FileExistsError, ValueError, LiveError,
)


def register(sub) -> None:
    parser = sub.add_parser("evaluate", help="run evaluation rollouts, show ledgers, build the success table",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmds = parser.add_subparsers(dest="evaluate_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    run = cmds.add_parser("run", help="N rollouts of a policy, recorded as episodes, into a ledger")
    run.add_argument("--policy", required=True, help="policy run dir, checkpoint dir or file")
    run.add_argument("--name", help="column name in the table, e.g. VIP-RWR (default: the policy dir name)")
    run.add_argument("--task-config", type=Path, help="task YAML (config/tasks/*.yaml) giving defaults")
    run.add_argument("--backend", choices=BACKENDS,
                     help="sim, franky (libfranka, no ROS), or fake (a dry run on fake hardware)")
    run.add_argument("--task", help="task name (simulator task for --backend sim)")
    run.add_argument("--rollouts", type=int, help="number of rollouts (default 10)")
    run.add_argument("--horizon", type=int, help="steps per rollout (default 100)")
    run.add_argument("--seed", type=int, default=0, help="evaluation seed (sim starts); one ledger per seed")
    run.add_argument("--rate", type=float, help="control rate in Hz (default 25)")
    run.add_argument("--encoder-weights", help="weights of the policy's encoder (.pt or .safetensors)")
    run.add_argument("--goal-image", action="append", default=[], help="goal image for rewards (repeatable)")
    run.add_argument("--goal-text", default="", help="goal sentence (LIV text goal) for rewards")
    run.add_argument("--goal-dataset", help="demo dataset whose successful demos' last frames are the goal")
    run.add_argument("--no-rewards", action="store_true", help="record rollouts without /reward")
    run.add_argument("--limits", type=Path, help="safety limits YAML (default: conservative built-ins)")
    run.add_argument("--output", type=Path, help="output dir (default results/<task>/<name>/seed<seed>)")
    run.add_argument("--image-size", type=int, default=224, help="sim camera size in pixels")
    run.add_argument("--image-format", choices=("raw", "jpeg", "png"), default="raw")
    run.add_argument("--robot-ip", help="franky: FCI address of the robot")
    run.add_argument("--dynamics", type=float, default=0.1, help="franky: relative dynamics factor (0..1]")
    run.add_argument("--camera-serial", help="franky: RealSense serial (default: the only one)")
    run.add_argument("--perception", choices=("process", "thread"), default="process",
                     help="franky: encoder in its own process (default) or thread")
    run.add_argument("--rt-priority", type=int, default=80, help="SCHED_FIFO priority of the loop (0: off)")
    add_inference_arguments(run, default=None)  # None: the task config's encoder.runtime/precision (auto)
    add_live_arguments(run)
    run.set_defaults(func=cmd_run)

    show = cmds.add_parser("show", help="print a ledger: success rate, rollouts, timing")
    show.add_argument("ledger", type=Path, help="ledger.json or its directory")
    show.add_argument("--json", action="store_true", help="print the summary as JSON")
    show.set_defaults(func=cmd_show)

    table = cmds.add_parser("table", help="comparison table across policies and seeds (markdown + PNG)")
    table.add_argument("ledgers", nargs="+", type=Path, help="ledger.json files or their directories")
    table.add_argument("--out", type=Path, default=Path("results/table"),
                       help="writes OUT.md, OUT.png (table) and OUT_bars.png (Wilson 95%% whiskers)")
    table.set_defaults(func=cmd_table)


# -- run ---------------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    try:
        with open_live(args) as live:
            session = build_session(args, live)
            ledger = session.run()
    except _ERRORS as exc:
        return fail(exc)
    print(ledger.rollout_table_markdown())
    print_summary(ledger)
    print(f"ledger: {session.ledger_path}")
    return 0


def build_session(args: argparse.Namespace, live=None) -> EvaluationSession:
    tc = load_task_config(args.task_config) if args.task_config else None
    task = args.task or (tc.task if tc else None)
    if not task:
        raise ValueError("name the task (--task or --task-config)")
    backend_name = args.backend or ("sim" if tc and tc.kind == "sim" else None)
    if backend_name is None:
        raise ValueError("choose --backend sim or franky (franka_ros2 runs through the ROS policy node)")
    policy = load_policy(args.policy)
    ref = policy.config.encoder
    weights = args.encoder_weights
    if weights is None and tc is not None and tc.encoder.weights:
        weights = os.path.expanduser(tc.encoder.weights)
    spec = tc.encoder if tc is not None else EncoderSpec()
    inference = {"runtime": args.runtime or spec.runtime, "precision": args.precision or spec.precision}
    # The same recipe builds the encoder here and, picklable, in the encoder process.
    factory = functools.partial(load_encoder, ref.name, weights, arch=ref.arch, **inference)
    encoder = factory()
    policy.check_encoder(encoder)
    limits = tc.safety_limits() if tc and not args.limits else load_limits(args.limits)
    goal = None if args.no_rewards else _goal(args, tc, encoder, task)
    cfg, info = evaluation_from_task(
        task, policy, args.policy, encoder, task_config=tc, name=args.name or "", output_dir=args.output,
        encoder_weights=weights, seed=args.seed, rollouts=args.rollouts, horizon=args.horizon,
        rate_hz=args.rate, goal_text=args.goal_text, image_format=args.image_format,
    )
    backend = _backend(backend_name, args, task)
    return EvaluationSession(backend, encoder, policy, cfg, ConsoleOperator(), limits=limits, goal=goal,
                             encoder_info=info, realtime_priority=args.rt_priority or None,
                             encoder_factory=factory, live=live)


def _goal(args: argparse.Namespace, tc, encoder, task: str) -> Goal:
    """The goal rewards are measured against: explicit options, else the task config's goal."""
    if args.goal_image:
        spec = GoalSpec(source="images", images=tuple(args.goal_image))
    elif args.goal_text:
        spec = GoalSpec(source="text", text=args.goal_text)
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


def _backend(name: str, args: argparse.Namespace, task: str) -> Backend:
    """The backend named by --backend (a robot driver of vipflow.hardware.factory) with its camera."""
    if name == "franky" and not args.robot_ip:
        raise ValueError("--backend franky needs --robot-ip (the FCI address set in Desk)")
    options = {"task": task, "seed": args.seed, "image_size": args.image_size, "robot_ip": args.robot_ip,
               "relative_dynamics_factor": args.dynamics, "serial": args.camera_serial}
    camera = make_spec(BACKEND_CAMERAS[name], **options)
    return open_backend(make_spec(name, **options), camera, perception=args.perception)


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


def cmd_table(args: argparse.Namespace) -> int:
    try:
        table = comparison_table(Ledger.load(p) for p in args.ledgers)
    except (LedgerError, ValueError) as exc:
        return fail(exc)
    md = table.to_markdown()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    md_path = args.out.with_suffix(".md")
    md_path.write_text(md + "\n")
    png_path = table.to_png(args.out.with_suffix(".png"))
    bars_path = plot_success_bars(table, args.out.with_name(args.out.name + "_bars.png"))
    print(md)
    print(f"wrote {md_path}, {png_path} and {bars_path}")
    return 0
