"""`vipflow record`: a session of kinesthetic demos into a dataset of rosbag2 (MCAP) episodes.

vipflow record --dataset data/close_drawer --task close_drawer --episodes 20 \\
    --source realsense --robot franky --robot-ip 172.16.0.2
vipflow record --dataset /tmp/dry --task t --source replay --replay data/x/episode_0000   # dry run
vipflow record --dataset data/close_drawer --task close_drawer --resume                  # continue
vipflow record --task-config config/tasks/close_drawer.yaml --source realsense --robot franky

Keys (plain terminal, also over ssh): space start, s stop as success, f stop as failure,
r discard and re-record, q quit. Ctrl-C keeps the current episode, flagged incomplete.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vipflow.cli import fail
from vipflow.cli.options import add_options, from_args
from vipflow.config_schema import ConfigError
from vipflow.episodes import EpisodeError
from vipflow.hardware import Camera, HardwareError, Robot
from vipflow.hardware.factory import make_spec, open_hardware
from vipflow.interrupt import exit_code, signal_name, signum_of
from vipflow.live import LiveError, add_live_arguments, open_live
from vipflow.record.keys import TerminalKeys
from vipflow.record.session import RecorderSession, SessionConfig, record_values
from vipflow.task_config import CameraSpec, load_task_config

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
    p.add_argument("--task-config", type=Path, default=None, metavar="YAML",
                   help="task config (vipflow task new, config/tasks/*.yaml): dataset, task, episodes, "
                   "episode and reset time, goal text, image format, rate and camera size; explicit options "
                   "override it (default: none)")
    add_options(p, SessionConfig)  # what to record; the camera and robot below are the hardware factory's
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
    for name in ("width", "height", "fps"):
        default = getattr(CameraSpec, name)
        p.add_argument(f"--{name}", type=int, default=None,
                       help=f"camera {name} (default: the task config's, else {default})")
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


def session_config(args: argparse.Namespace) -> SessionConfig:
    """defaults < --task-config < flags, for the session and (filled into ``args``) the camera size."""
    tc = load_task_config(args.task_config) if args.task_config else None
    cfg = from_args(SessionConfig, args, record_values(tc) if tc else {}, {"source": args.source})
    camera = tc.camera if tc else CameraSpec()
    for name in ("width", "height", "fps"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(camera, name))
    return cfg


def _run(args: argparse.Namespace) -> int:
    try:
        cfg = session_config(args)
    except ConfigError as exc:  # TaskConfigError too
        return fail(exc)
    try:
        camera, robot = open_sources(args)
        with open_live(args) as live, TerminalKeys() as keys:
            result = RecorderSession(cfg, camera, robot, keys, live=live).run()
    except (EpisodeError, HardwareError, OSError, LiveError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # between episodes: nothing was being written
        print(f"\n{signal_name(signum_of(exc))}: interrupted between episodes; every finished episode is "
              f"kept in {args.dataset}", file=sys.stderr)
        return exit_code(signum_of(exc))
    if result.stop_signal is not None:
        print(f"{signal_name(result.stop_signal)}: recording stopped; {len(result.kept)} episode(s) kept in "
              f"{args.dataset} (the interrupted one flagged incomplete)", file=sys.stderr)
        return exit_code(result.stop_signal)
    return 0
