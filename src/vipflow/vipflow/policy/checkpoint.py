"""Checkpoints as safetensors + JSON (never pickle), written atomically, with a ``last`` pointer.

Layout of a run directory::

    run/checkpoints/step_00020000/policy.safetensors      net weights (+ task table)
                                  policy.json             PolicyConfig: everything needed to act
                                  training_state.safetensors   optimiser moments, sampler RNG
                                  training_state.json     step, optimiser hyper-parameters, data hash
    run/checkpoints/last                                  text file: name of the newest checkpoint

A checkpoint directory is first written as ``<name>.tmp`` and renamed, and ``last`` is replaced
with ``os.replace``, so a crash mid-save leaves the previous checkpoint intact and pointed to.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vipflow.durable import atomic_write_text
from vipflow.policy.errors import CheckpointError
from vipflow.policy.model import PolicyNet, build_policy_net
from vipflow.policy.policy_config import PolicyConfig

POLICY_WEIGHTS = "policy.safetensors"
POLICY_JSON = "policy.json"
STATE_TENSORS = "training_state.safetensors"
STATE_JSON = "training_state.json"
LAST = "last"
TASK_TABLE_KEY = "task_table"


def checkpoint_name(step: int) -> str:
    return f"step_{step:08d}"


def write_json(path: Path, data: Any) -> None:
    """Atomic JSON write (temporary file + rename): readers never see half a file."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing; the checkpoint is incomplete, pick another one") from None
    except json.JSONDecodeError as e:
        raise CheckpointError(
            f"{path} is not valid JSON ({e}); the checkpoint is corrupt, pick another one"
        ) from None


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; the checkpoint is incomplete, pick another one")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path} cannot be read ({e}); the file is truncated or corrupt") from None


def save_policy(
    directory: str | Path, net: PolicyNet, config: PolicyConfig, task_table: np.ndarray | None
) -> Path:
    """Write ``policy.safetensors`` + ``policy.json`` into ``directory`` (created if needed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    if task_table is not None:
        tensors[TASK_TABLE_KEY] = torch.as_tensor(np.asarray(task_table, np.float32))
    save_file(
        tensors, str(directory / POLICY_WEIGHTS), metadata={"vipflow_policy_format": config.format_version}
    )
    write_json(directory / POLICY_JSON, config.to_json())
    return directory


def read_policy(directory: Path) -> tuple[PolicyConfig, PolicyNet, np.ndarray | None]:
    """Load a checkpoint directory into (config, net in eval mode, task table or None)."""
    try:
        config = PolicyConfig.from_json(_read_json(directory / POLICY_JSON))
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{directory / POLICY_JSON} does not describe a vipflow policy: {e}") from None
    tensors = _load_tensors(directory / POLICY_WEIGHTS)
    table = tensors.pop(TASK_TABLE_KEY, None)
    net = build_policy_net(config.input_dim, config.action_dim, config.hidden_sizes, config.head)
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        raise CheckpointError(
            f"{directory / POLICY_WEIGHTS} does not match {POLICY_JSON} (hidden sizes {config.hidden_sizes}, "
            f"input {config.input_dim}, head {config.head}): {e}"
        ) from None
    net.eval()
    if config.task_conditioning != "none" and (
        table is None or table.shape != (len(config.tasks), config.task_dim)
    ):
        raise CheckpointError(
            f"{directory / POLICY_WEIGHTS} lacks a task table of shape ({len(config.tasks)}, "
            f"{config.task_dim}) for its {config.task_conditioning} task conditioning"
        )
    return config, net, None if table is None else table.numpy()


def save_training_state(
    directory: Path,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    step: int,
    extra: dict[str, Any],
) -> None:
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {"sampler_rng": generator.get_state()}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"optim.{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[key] = value
    save_file(tensors, str(directory / STATE_TENSORS))
    write_json(
        directory / STATE_JSON,
        {
            "step": step,
            "param_groups": sd["param_groups"],
            "optimizer_scalars": scalars,
            **extra,
        },
    )


def load_training_state(
    directory: Path, optimizer: torch.optim.Optimizer, generator: torch.Generator
) -> dict[str, Any]:
    """Restore optimiser moments and the sampler RNG in place; return the JSON part (with ``step``)."""
    meta = _read_json(directory / STATE_JSON)
    tensors = _load_tensors(directory / STATE_TENSORS)
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    for idx, scalars in meta.get("optimizer_scalars", {}).items():
        state.setdefault(int(idx), {}).update(scalars)
    groups = meta["param_groups"]
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
        generator.set_state(tensors["sampler_rng"])
    except (KeyError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"training state in {directory} does not fit this run: {e}") from None
    return meta


def write_checkpoint(
    run_dir: Path,
    step: int,
    net: PolicyNet,
    config: PolicyConfig,
    task_table: np.ndarray | None,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    extra: dict[str, Any],
) -> Path:
    """Atomically write checkpoint ``step`` and point ``last`` at it."""
    root = Path(run_dir) / "checkpoints"
    final = root / checkpoint_name(step)
    tmp = root / (checkpoint_name(step) + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    save_policy(tmp, net, config, task_table)
    save_training_state(tmp, optimizer, generator, step, extra)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    atomic_write_text(root / LAST, final.name + "\n")
    return final


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint ``last`` points to, or None if the run has none yet."""
    pointer = Path(run_dir) / "checkpoints" / LAST
    if not pointer.is_file():
        return None
    target = pointer.parent / pointer.read_text().strip()
    if not (target / POLICY_JSON).is_file():
        raise CheckpointError(
            f"{pointer} points to {target.name}, which is missing or incomplete; "
            f"write the name of an existing checkpoint directory into {pointer}"
        )
    return target


def resolve_checkpoint(path: str | Path) -> Path:
    """Accept a run dir, its ``checkpoints`` dir, a checkpoint dir, or a ``policy.*`` file."""
    p = Path(path)
    if p.is_file() and p.name in (POLICY_WEIGHTS, POLICY_JSON):
        return p.parent
    if (p / POLICY_JSON).is_file():
        return p
    for run_dir in (p, p.parent):
        if (run_dir / "checkpoints" / LAST).is_file():
            found = latest_checkpoint(run_dir)
            if found is not None:
                return found
    if not p.exists():
        raise CheckpointError(f"{p} does not exist; pass a run directory or a checkpoint directory")
    raise CheckpointError(
        f"{p} holds no policy checkpoint ({POLICY_JSON} + {POLICY_WEIGHTS}, or checkpoints/{LAST}); "
        "pass the run directory written by `vipflow train` or one of its checkpoints/step_* directories"
    )
