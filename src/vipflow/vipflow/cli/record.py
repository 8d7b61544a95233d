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
from dataclasses import dataclass
from pathlib import Path

from vipflow.cli import fail
from vipflow.cli.options import add_options, from_args
from vipflow.config_schema import ConfigError, option
from vipflow.episodes import EpisodeError
from vipflow.episodes.keys import TerminalKeys
from vipflow.episodes.recorder import RecorderSession, SessionConfig
from vipflow.hardware import Camera, HardwareError, Robot

HARDWARE = "camera and robot"


@dataclass(frozen=True)
class SourceOptions:
    """Where frames and robot states come from (one declaration, the options below derive from it)."""

    source: str = option(
        "realsense", "camera: a RealSense, a replayed episode/mp4, or a fake camera (dry run)",
        choices=("realsense", "replay", "fake"), group=HARDWARE,
    )
    replay: Path | None = option(None, "episode directory or mp4 for --source replay", group=HARDWARE)
    robot: str | None = option(
        None, "robot state: franky (libfranka), replay (from --replay episode), fake",
        choices=("franky", "replay", "fake"), group=HARDWARE,
        default_text="franky for realsense, replay/fake otherwise",
    )
    robot_ip: str = option("172.16.0.2", "Franka control IP for --robot franky", group=HARDWARE)
    width: int = option(640, "camera image width, pixels", bounds="[1, 8192]", group=HARDWARE)
    height: int = option(480, "camera image height, pixels", bounds="[1, 8192]", group=HARDWARE)
    fps: int = option(30, "camera frame rate", bounds="[1, 1000]", group=HARDWARE)
    serial: str | None = option(
        None, "RealSense serial number", group=HARDWARE, default_text="the first camera"
    )


def register(sub) -> None:
    p = sub.add_parser(
        "record",
        help="record kinesthetic demos (keys in the terminal) into rosbag2/MCAP episodes",
        description="Record N episodes with episode and reset timers. Keys: space start, s success, "
        "f failure, r discard & re-record, q quit. Interrupted recordings are recovered on the next run.",
    )
    add_options(p, SessionConfig)
    add_options(p, SourceOptions)
    p.set_defaults(func=_run)


def open_sources(args: SourceOptions) -> tuple[Camera, Robot]:
    """Camera and robot for the chosen source (imports hardware libraries only when used)."""
    episode = args.source == "replay" and args.replay is not None and args.replay.is_dir()
    robot_kind = args.robot or ("franky" if args.source == "realsense" else "replay" if episode else "fake")
    replay_robot: Robot | None = None
    if args.source == "realsense":
        from vipflow.sources import RealSenseCamera

        camera: Camera = RealSenseCamera(args.width, args.height, args.fps, args.serial)
    elif args.source == "replay":
        from vipflow.sources import replay_episode, replay_video

        if args.replay is None or not args.replay.exists():
            raise HardwareError(f"--source replay needs --replay PATH (an episode or mp4), got {args.replay}")
        camera, replay_robot = replay_episode(args.replay) if episode else (replay_video(args.replay), None)
    else:
        from vipflow.fakes import FakeCamera

        camera = FakeCamera(fps=args.fps, height=args.height, width=args.width)
    if robot_kind == "replay":
        if replay_robot is None:
            raise HardwareError(
                "--robot replay needs --source replay --replay EPISODE_DIR (a video has no state)"
            )
        return camera, replay_robot
    if robot_kind == "franky":
        from vipflow.runtime.franky_robot import FrankyRobot

        return camera, FrankyRobot(args.robot_ip)
    from vipflow.fakes import FakeRobot

    return camera, FakeRobot()


def _run(args: argparse.Namespace) -> int:
    try:
        sources = from_args(SourceOptions, args)
        cfg = from_args(SessionConfig, args, {"source": sources.source})
    except ConfigError as exc:
        return fail(exc)
    try:
        camera, robot = open_sources(sources)
        with TerminalKeys() as keys:
            RecorderSession(cfg, camera, robot, keys).run()
    except (EpisodeError, HardwareError, OSError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    return 0
