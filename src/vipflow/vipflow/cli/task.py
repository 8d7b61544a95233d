"""`vipflow task`: bring your own task (docs/new-task.md).

    vipflow task new close_lid                     # config/tasks/close_lid.yaml, every key explained
    vipflow task new close_lid --out ~/my_tasks --limits config/safety_default.yaml
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vipflow.cli import fail
from vipflow.durable import OutputError
from vipflow.task_config import TaskConfigError
from vipflow.task_template import write_task_template


def register(sub) -> None:
    p = sub.add_parser("task", help="create a task config for your own task",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ts = p.add_subparsers(dest="task_command", metavar="ACTION", required=True)
    new = ts.add_parser("new", help="write a commented task config template (it loads as a valid config)")
    new.add_argument("name", help="task name (also the file name)")
    new.add_argument("--out", type=Path, default=Path("config/tasks"), metavar="DIR",
                     help="folder for NAME.yaml (where --task-config NAME is looked up)")
    new.add_argument("--limits", type=Path, default=None, metavar="FILE",
                     help="base safety-limits YAML (default: safety_default.yaml beside DIR, or in ./config)")
    new.set_defaults(func=_new)


def _new(args: argparse.Namespace) -> int:
    try:
        path = write_task_template(args.name, args.out, args.limits)
    except (TaskConfigError, OutputError) as exc:
        return fail(exc)
    print(f"wrote {path}: edit description, goal and encoder, then record with "
          f"`vipflow record --task-config {path}` (docs/new-task.md)")
    return 0
