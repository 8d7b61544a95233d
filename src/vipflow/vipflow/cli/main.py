"""The `vipflow` command: composes the core components in-process, without ROS.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its parser
and sets ``func`` (called with the parsed namespace, returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from vipflow import __version__
from vipflow.cli.options import add_data_root, show_defaults
from vipflow.data_root import DATA_ENV
from vipflow.interrupt import exit_code, interruptible, signal_name, signum_of

# Subcommand modules, in the order `vipflow --help` lists them.
COMMAND_MODULES = (
    "demo",
    "rewards",
    "weights",
    "record",
    "episodes",
    "train_encoder",
    "train",
    "evaluate",
    "live",
    "task",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vipflow",
        description="VIP/LIV visual rewards -> demos -> offline RWR/BC -> 25 Hz rollouts, without ROS.",
    )
    parser.add_argument("--version", action="version", version=f"vipflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"vipflow.cli.{name}").register(sub)
    add_data_root(parser)
    show_defaults(parser)  # every default in --help, also of the hand-declared options
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if getattr(args, "data_root", None) is not None:  # every default path resolves under it
        os.environ[DATA_ENV] = str(args.data_root.expanduser().absolute())
    with interruptible():  # SIGTERM behaves like Ctrl-C in every command
        try:
            return int(args.func(args) or 0)
        except KeyboardInterrupt as exc:  # commands that stop at a consistent point handle it earlier
            print(f"\n{signal_name(signum_of(exc))}: interrupted; files already written are complete "
                  "(every output is written atomically)", file=sys.stderr)
            return exit_code(signum_of(exc))


if __name__ == "__main__":
    sys.exit(main())
