"""``ros2 run rwr_policy_node train ...``: the core trainer, with exactly ``vipflow train``'s options.

The parser is ``vipflow.cli.train``'s own (``build_train_parser``), so the two entry points can
never drift apart. Training needs no ROS: ROS arguments, if ``ros2 run`` passes any, are removed.

    TASKS=$(ros2 pkg prefix vip_bringup)/share/vip_bringup/config/tasks
    ros2 run rwr_policy_node train --task-config $TASKS/fold_towel.yaml \\
        --encoder-weights ~/weights/vip_resnet50.pt --out runs/fold_towel-rwr
"""

from __future__ import annotations

import argparse
import sys

from vipflow.cli.train import build_train_parser, run_train


def strip_ros_args(argv: list[str]) -> list[str]:
    """Drop ``--ros-args ... [--]`` blocks (what rclpy.utilities.remove_ros_args does)."""
    out, skipping = [], False
    for arg in argv:
        if arg == "--ros-args":
            skipping = True
        elif skipping and arg == "--":
            skipping = False
        elif not skipping:
            out.append(arg)
    return out


def build_parser() -> argparse.ArgumentParser:
    """``vipflow train``'s parser under the ROS name (the CLI vocabulary test walks it too)."""
    return build_train_parser(prog="ros2 run rwr_policy_node train")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(strip_ros_args(sys.argv[1:] if argv is None else argv))
    return run_train(args)


if __name__ == "__main__":
    raise SystemExit(main())
