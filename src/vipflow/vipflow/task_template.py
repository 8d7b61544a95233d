"""A new task's config, written from the schema: every key of ``vipflow.task_config.TaskConfig``
with its default and its help as a comment (`vipflow task new NAME`, docs/new-task.md).

Generated rather than copied from a shipped file, so a key added to the schema shows up in the
template with its explanation, and the template always loads as a valid task config.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from vipflow.durable import atomic_write_text
from vipflow.outputs import check_output_dir, check_output_file
from vipflow.task_config import TaskConfig, TaskConfigError, load_task_config

LIMITS_NAME = "safety_default.yaml"
HEADER = """\
# Task config for {name}: everything task-specific the recorder, the reward node, the trainer and
# the evaluation read (schema: vipflow.task_config; walk-through: docs/new-task.md).
# Written by `vipflow task new {name}`; every key shows its default and what it means.
# Relative paths (goal.images, safety.limits) resolve against this file's folder.
"""
# What the template says beyond the schema's one-line help, where a newcomer must act.
NOTES = {
    "goal.source": "dataset: last frames of your successful demos; images: photos of the goal; "
                   "text: a sentence (needs encoder.name: liv)",
    "encoder.weights": "or pass --encoder-weights to each command",
    "safety.limits": "adapt the workspace box to your table (copy the file, or use overrides)",
}


def _yaml(value: object) -> str:
    """A YAML flow value (JSON is YAML): strings quoted, lists and mappings inline."""
    return json.dumps(list(value) if isinstance(value, tuple) else value, ensure_ascii=False)


def _lines(obj: object, prefix: str = "", indent: str = "") -> list[str]:
    out = []
    for f in dataclasses.fields(obj):
        if f.metadata.get("internal"):
            continue
        value, key = getattr(obj, f.name), prefix + f.name
        if dataclasses.is_dataclass(value):
            out += ["", f"{indent}{f.name}:", *_lines(value, key + ".", indent + "  ")]
            continue
        note = "; ".join(filter(None, (f.metadata.get("help", ""), NOTES.get(key))))
        out.append(f"{indent}{f.name}: {_yaml(value)}  # {note}")
    return out


def task_template(name: str, limits: str) -> str:
    """The commented YAML of a new real-robot task ``name`` whose base safety limits are ``limits``
    (relative to the file)."""
    cfg = TaskConfig(task=name, description=f"describe the goal state of {name}")
    cfg = dataclasses.replace(cfg, safety=dataclasses.replace(cfg.safety, limits=limits))
    return HEADER.format(name=name) + "\n".join(_lines(cfg)) + "\n"


def write_task_template(name: str, folder: str | Path, limits: str | Path | None = None) -> Path:
    """Write ``folder/<name>.yaml`` (never over an existing file) and check it loads; returns it.
    ``limits``: the base safety-limits file, by default ``safety_default.yaml`` in the folder's
    parent (the ``config/tasks`` layout) or in ``./config``."""
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise TaskConfigError(f"task name {name!r}: use letters, digits, '_' or '-' (it names the file)")
    folder = check_output_dir(folder)
    path = check_output_file(folder / f"{name}.yaml", option="--out")
    if path.exists():
        raise TaskConfigError(f"{path} exists; edit it, or choose another name or --out")
    candidates = [Path(limits)] if limits else [folder.parent / LIMITS_NAME, Path("config") / LIMITS_NAME]
    found = next((p.expanduser().absolute() for p in candidates if p.expanduser().is_file()), None)
    if found is None:
        raise TaskConfigError(f"no base safety limits at {' or '.join(map(str, candidates))}; run from the "
                              "repository root or pass --limits FILE (a copy of config/safety_default.yaml)")
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, task_template(name, os.path.relpath(found, folder)))
    load_task_config(path)  # the template is a valid task config, limits included
    return path
