"""The `vipflow` command: composes the core components in-process, without ROS.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its parser
and sets ``func`` (called with the parsed namespace, returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from vipflow import __version__

# Subcommand modules, in the order `vipflow --help` lists them.
COMMAND_MODULES = (
    "demo",
    "rewards",
    "weights",
    "encoders",
    "record",
    "episodes",
    "train_encoder",
    "train",
    "evaluate",
    "live",
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
