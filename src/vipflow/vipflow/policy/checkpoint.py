"""Policy checkpoints as safetensors + JSON (never pickle), in a run folder (``vipflow.runs``)::

    run/checkpoints/step_00020000/policy.safetensors      net weights (+ task table)
                                  policy.json             PolicyConfig: everything needed to act
                                  training_state.safetensors   optimiser moments, sampler RNG
                                  training_state.json     step, optimiser hyper-parameters, data hash
    run/checkpoints/last                                  text file: name of the newest checkpoint
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vipflow.policy.errors import CheckpointError
from vipflow.policy.model import PolicyNet, build_policy_net
from vipflow.policy.policy_config import PolicyConfig
from vipflow.runs import RunLayout, read_json, write_json

POLICY_WEIGHTS = "policy.safetensors"
POLICY_JSON = "policy.json"
STATE_TENSORS = "training_state.safetensors"
STATE_JSON = "training_state.json"
TASK_TABLE_KEY = "task_table"
POLICY_RUN = RunLayout("policy", POLICY_JSON, CheckpointError, files=(POLICY_WEIGHTS, POLICY_JSON))
latest_checkpoint = POLICY_RUN.latest  # the checkpoint `last` names, None before the first one
resolve_checkpoint = POLICY_RUN.resolve  # run dir, checkpoints dir, checkpoint dir or policy.* file


def _read_json(path: Path) -> Any:
    return read_json(path, CheckpointError)


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
    """Durably write checkpoint ``step`` into the run folder and point ``last`` at it."""

    def write(folder: Path) -> None:
        save_policy(folder, net, config, task_table)
        save_training_state(folder, optimizer, generator, step, extra)

    return POLICY_RUN.save(run_dir, step, write)
