"""`vipflow live`: the Foxglove layouts shipped with vipflow.

    vipflow live layout live --out vipflow-live.json      # for `--live` (ROS-free server)
    vipflow live layout ros --out vipflow-ros.json        # for the ROS 2 nodes' topics
    vipflow live layout episodes --out vipflow-episodes.json   # recorded episodes + reward sidecars

Import the file in Foxglove (Layouts -> Import from file). The live stream itself is started by
`--live` on record, evaluate run, demo and rewards.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from vipflow.live.layouts import SOURCES, shipped_layout


def register(sub) -> None:
    parser = sub.add_parser("live", help="Foxglove layouts for the live view, the ROS topics and episodes",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmds = parser.add_subparsers(dest="live_command", metavar="SUBCOMMAND", required=True)
    layout = cmds.add_parser("layout", help="write (or locate) a shipped Foxglove layout")
    layout.add_argument("source", choices=SOURCES, help="live (--live server), ros (our nodes), episodes")
    layout.add_argument("--out", type=Path, help="copy it here (default: print where it is installed)")
    layout.set_defaults(func=cmd_layout)


def cmd_layout(args: argparse.Namespace) -> int:
    path = shipped_layout(args.source)
    if args.out is None:
        print(path)
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, args.out)
    print(f"wrote {args.out}: import it in Foxglove (Layouts -> Import from file)")
    return 0
