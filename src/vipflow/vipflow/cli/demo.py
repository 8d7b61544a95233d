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
from pathlib import Path

from vipflow.cli import fail
from vipflow.cli.encoders import add_inference_arguments
from vipflow.evaluation.table import comparison_table
from vipflow.live import LiveError, add_live_arguments, open_live

TASK_NAMES = ("slide_cabinet", "microwave", "hinge_cabinet", "light_switch")  # vipflow.sim.TASKS


def register(sub) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the whole workflow in simulation (record, rewards, RWR/BC, evaluation, report)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--task", default="slide_cabinet", choices=TASK_NAMES, help="kitchen task")
    parser.add_argument("--out", type=Path, default=Path("vipflow_demo"), help="output directory")
    parser.add_argument("--experts", type=int, default=10, help="expert demos (default 10)")
    parser.add_argument("--failures", type=int, default=10, help="failed demos (default 10)")
    parser.add_argument("--steps", type=int, default=20_000, help="policy training steps (default 20000)")
    parser.add_argument("--temperature", type=float, default=5.0,
                        help="RWR temperature tau (default 5, for the kitchen encoder's reward scale)")
    parser.add_argument("--weight-clip", type=float, default=20.0,
                        help="clip RWR weights at this multiple of their mean (default 20; 0: no clip)")
    parser.add_argument("--rollouts", type=int, default=10, help="evaluation rollouts per policy")
    parser.add_argument("--horizon", type=int,
                        help="evaluation steps per rollout (default: demo length + 50)")
    parser.add_argument("--image-size", type=int, default=64, help="camera image side in pixels")
    parser.add_argument("--seed", type=int, default=0, help="seed of demos, training and evaluation starts")
    parser.add_argument("--encoder-weights", type=Path,
                        help="use this VIP encoder instead of the shipped kitchen encoder")
    parser.add_argument("--train-encoder", action="store_true",
                        help="pretrain the kitchen encoder now (ignores the shipped weights)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_inference_arguments(parser)
    add_live_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # deferred: the simulator needs mujoco (the optional `sim` extra), and its GL backend must be
    # chosen before anything loads mujoco; `vipflow --help` and the other commands never pay for it.
    from vipflow.sim import configure_gl

    configure_gl()
    from vipflow.sim.report import write_report  # deferred: mujoco, after configure_gl (above)
    from vipflow.sim.workflow import WorkflowConfig, run_workflow  # deferred: mujoco, after configure_gl

    if args.out.exists() and not args.out.is_dir():
        return fail(f"--out {args.out} is a file; give a directory for the demo results")
    if args.out.exists() and any(args.out.iterdir()):
        return fail(f"{args.out} is not empty; demo results are never overwritten; choose --out")
    if args.train_encoder and args.encoder_weights:
        return fail("give either --encoder-weights or --train-encoder")
    cfg = WorkflowConfig(
        task=args.task,
        out_dir=args.out,
        n_expert=args.experts,
        n_failure=args.failures,
        image_size=args.image_size,
        seed=args.seed,
        encoder_weights=args.encoder_weights,
        train_encoder=args.train_encoder,
        temperature=args.temperature,
        weight_clip=args.weight_clip or None,
        policy_steps=args.steps,
        rollouts=args.rollouts,
        eval_horizon=args.horizon,
        progress=not args.no_progress,
        encoder_runtime=args.runtime,
        encoder_precision=args.precision,
    )
    try:
        with open_live(args) as live:
            result = run_workflow(cfg, live=live)
    except LiveError as exc:
        return fail(exc)
    report = write_report(result)
    print()
    print(comparison_table(result.ledgers.values()).to_markdown())
    print(f"\nreport: {report} (reward_curves.png, training_curves.png, success_table.png beside it)")
    return 0
