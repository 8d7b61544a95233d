"""The ``--live`` options, declared once for every long-running command."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

from vipflow.live.publisher import LiveConfig, LivePublisher


def add_live_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("live view (Foxglove)")
    group.add_argument("--live", action="store_true",
                       help="stream camera, rewards, robot state, actions and safety status to Foxglove "
                            "over a WebSocket server on localhost (off the command path)")
    group.add_argument("--live-port", type=int, default=LiveConfig.port,
                       help=f"port of the live server (default {LiveConfig.port}; 0: any free port)")


@contextlib.contextmanager
def open_live(args: argparse.Namespace) -> Iterator[LivePublisher | None]:
    """The publisher when ``--live`` was given (closed afterwards), else None."""
    if not getattr(args, "live", False):
        yield None
        return
    publisher = LivePublisher(LiveConfig(port=args.live_port))
    try:
        yield publisher
    finally:
        publisher.close()
        if publisher.dropped:
            print(f"live: {publisher.dropped} message(s) dropped "
                  "(the viewer fell behind; the loop never waited)")
