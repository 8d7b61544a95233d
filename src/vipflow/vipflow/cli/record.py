"""`vipflow record`: a session of kinesthetic demos into a dataset of rosbag2 (MCAP) episodes.

vipflow record --dataset data/close_drawer --task close_drawer --episodes 20 \\
    --source realsense --robot franky --robot-ip 172.16.0.2
vipflow record --dataset /tmp/dry --task t --source replay --replay data/x/episode_0000   # dry run
vipflow record --dataset data/close_drawer --task close_drawer --resume                  # continue

Keys (plain terminal, also over ssh): space start, s stop as success, f stop as failure,
r discard and re-record, q quit. Ctrl-C keeps the current episode, flagged incomplete.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vipflow.episodes import EpisodeError
from vipflow.hardware import Camera, HardwareError, Robot
from vipflow.hardware.factory import make_spec, open_hardware
from vipflow.live import LiveError, add_live_arguments, open_live
from vipflow.record.keys import TerminalKeys
from vipflow.record.session import RecorderSession, SessionConfig

# Hardware drivers (vipflow.hardware.factory) that stream on their own while a person moves the arm.
SOURCES = ("realsense", "replay", "fake")
ROBOTS = ("franky", "replay", "fake")


def register(sub) -> None:
    p = sub.add_parser(
        "record",
        help="record kinesthetic demos (keys in the terminal) into rosbag2/MCAP episodes",
        description="Record N episodes with episode and reset timers. Keys: space start, s success, "
        "f failure, r discard & re-record, q quit. Interrupted recordings are recovered on the next run.",
    )
    p.add_argument("--dataset", type=Path, required=True, help="dataset directory (created if missing)")
    p.add_argument("--task", required=True, help="task name stored with every episode")
    p.add_argument("--episodes", type=int, default=20, help="episodes to record in this run (default 20)")
    p.add_argument("--episode-time", type=float, default=2.0, help="seconds per demo (default 2 = 50 steps)")
    p.add_argument("--reset-time", type=float, default=10.0, help="reset phase between demos, seconds")
    p.add_argument("--auto-start", action="store_true", help="start the next demo when the reset time ends")
    p.add_argument("--resume", action="store_true", help="continue numbering in a non-empty dataset")
    p.add_argument("--goal-text", default="", help="goal sentence stored with every episode")
    p.add_argument("--operator", default="", help="who records")
    p.add_argument("--tag", action="append", default=[], help="tag stored with every episode (repeatable)")
    p.add_argument("--image-format", choices=("raw", "jpeg", "png"), default="raw")
    p.add_argument("--rate", type=float, default=25.0, help="nominal control grid, Hz (default 25)")
    p.add_argument("--state-rate", type=float, default=100.0, help="robot state sampling rate, Hz")
    p.add_argument(
        "--source",
        choices=SOURCES,
        default="realsense",
        help="camera: a RealSense, a replayed episode/mp4, or a fake camera (dry run)",
    )
    p.add_argument("--replay", type=Path, default=None, help="episode directory or mp4 for --source replay")
    p.add_argument(
        "--robot",
        choices=ROBOTS,
        default=None,
        help="robot state: franky (libfranka), replay (from --replay episode), fake. "
        "Default: franky for realsense, replay/fake otherwise",
    )
    p.add_argument("--robot-ip", default="172.16.0.2", help="Franka control IP for --robot franky")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--serial", default=None, help="RealSense serial number (default: the first camera)")
    add_live_arguments(p)
    p.set_defaults(func=_run)


def open_sources(args: argparse.Namespace) -> tuple[Camera, Robot]:
    """Camera and robot for --source/--robot, opened by the hardware factory (driver names)."""
    episode = args.source == "replay" and args.replay is not None and args.replay.is_dir()
    robot_kind = args.robot or ("franky" if args.source == "realsense" else "replay" if episode else "fake")
    if args.source == "replay" and (args.replay is None or not args.replay.exists()):
        raise HardwareError(f"--source replay needs --replay PATH (an episode or mp4), got {args.replay}")
    if robot_kind == "replay" and not episode:
        raise HardwareError(
            "--robot replay needs --source replay --replay EPISODE_DIR (a video has no state)"
        )
    options = {"path": str(args.replay) if args.replay else None, "width": args.width, "height": args.height,
               "fps": args.fps, "serial": args.serial, "robot_ip": args.robot_ip}
    hw = open_hardware(make_spec(args.source, **options), make_spec(robot_kind, **options))
    return hw.camera, hw.robot


def _run(args: argparse.Namespace) -> int:
    cfg = SessionConfig(
        dataset=args.dataset,
        task=args.task,
        num_episodes=args.episodes,
        episode_time_s=args.episode_time,
        reset_time_s=args.reset_time,
        auto_start=args.auto_start,
        goal_text=args.goal_text,
        operator=args.operator,
        tags=tuple(args.tag),
        source=args.source,
        image_format=args.image_format,
        nominal_rate_hz=args.rate,
        state_rate_hz=args.state_rate,
        resume=args.resume,
    )
    try:
        camera, robot = open_sources(args)
        with open_live(args) as live, TerminalKeys() as keys:
            RecorderSession(cfg, camera, robot, keys, live=live).run()
    except (EpisodeError, HardwareError, OSError, LiveError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    return 0
