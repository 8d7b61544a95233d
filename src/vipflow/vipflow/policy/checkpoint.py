"""Policy checkpoints as safetensors + JSON (never pickle), in a run folder (``vipflow.runs``)::

    run/checkpoints/step_00020000/policy.safetensors      net weights (+ task table)
                                  policy.json             PolicyConfig: everything needed to act
                                  training_state.safetensors   optimiser moments, sampler RNG
                                  training_state.json     step, optimiser hyper-parameters, data hash
    run/checkpoints/last                                  text file: name of the newest checkpoint
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vipflow.errors import one_line
from vipflow.policy.errors import CheckpointError
from vipflow.policy.model import PolicyNet, build_policy_net
from vipflow.policy.policy_config import PolicyConfig
from vipflow.runs import RunLayout, read_json, write_json
from vipflow.tensorfile import TensorFileError, read_tensors, save_tensors, value_problems

POLICY_WEIGHTS = "policy.safetensors"
POLICY_JSON = "policy.json"
STATE_TENSORS = "training_state.safetensors"
STATE_JSON = "training_state.json"
TASK_TABLE_KEY = "task_table"
HASH_KEY = "vipflow_sha256"  # safetensors metadata: content_hash of the JSON file + the tensors

# Sanity bounds of a loaded checkpoint. Trained values are orders of magnitude inside them; a file
# beyond them is corrupt or hand-edited and would drive the arm with garbage.
MAX_STEP = 10**9  # optimiser steps (a run is ~20k)
MAX_WIDTH = 65_536  # embedding, hidden and task dimensions
MAX_ABS_WEIGHT = 1e6  # |weight| and |normalisation mean|
STD_RANGE = (1e-7, 1e6)  # normalisation std (constant features get 1.0, see spec._STD_FLOOR)
POLICY_RUN = RunLayout("policy", POLICY_JSON, CheckpointError, files=(POLICY_WEIGHTS, POLICY_JSON))
latest_checkpoint = POLICY_RUN.latest  # the checkpoint `last` names, None before the first one
resolve_checkpoint = POLICY_RUN.resolve  # run dir, checkpoints dir, checkpoint dir or policy.* file


def _read_json(path: Path) -> Any:
    return read_json(path, CheckpointError)


def _load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; the checkpoint is incomplete, pick another one")
    try:
        return read_tensors(path)
    except (TensorFileError, OSError) as e:
        raise CheckpointError(f"{e}; the file is truncated or corrupt, pick another checkpoint") from None


def content_hash(document: Any, tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over a JSON document (canonical form: reformatting is harmless, any changed value is
    not) and tensors (names, dtypes, shapes, bytes). Stored in the safetensors metadata, it makes
    any change to either file after writing - a flipped bit, a hand edit - a named error."""
    h = hashlib.sha256(json.dumps(document, sort_keys=True).encode())
    for key in sorted(tensors):
        t = tensors[key].detach().cpu().contiguous()
        h.update(f"|{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _check_hash(path: Path, stored: str | None, document: Any, tensors: dict[str, torch.Tensor]) -> None:
    if stored is not None and stored != content_hash(document, tensors):
        raise _refuse(path, f"its content no longer matches the checksum written with it ({HASH_KEY})")


def _refuse(path: Path, problem: str) -> CheckpointError:
    return CheckpointError(
        f"{path}: {problem}; the checkpoint is corrupt or was edited - retrain or pick another checkpoint"
    )


def _check_config(path: Path, config: PolicyConfig) -> None:
    """Dimensions and normalisation statistics of ``policy.json`` within sane, usable ranges."""
    dims = [("embed_dim", config.encoder.embed_dim), ("task_dim", config.task_dim)]
    dims += [(f"hidden_sizes[{i}]", h) for i, h in enumerate(config.hidden_sizes)]
    for name, value in dims:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_WIDTH:
            raise _refuse(path, f"{name} is {value!r} (expected an integer in 0..{MAX_WIDTH})")
    if config.encoder.embed_dim == 0 or 0 in config.hidden_sizes or len(config.hidden_sizes) > 16:
        raise _refuse(path, f"the network shape is unusable (embed_dim {config.encoder.embed_dim}, "
                      f"hidden_sizes {list(config.hidden_sizes)})")
    if not (math.isfinite(config.rate_hz) and config.rate_hz > 0):
        raise _refuse(path, f"rate_hz is {config.rate_hz}")
    n = config.normalization
    lo, hi = STD_RANGE
    for name, values in (("obs_mean", n.obs_mean), ("obs_std", n.obs_std),
                         ("action_mean", n.action_mean), ("action_std", n.action_std)):
        try:
            arr = np.asarray(values, np.float64)
        except (TypeError, ValueError):
            raise _refuse(path, f"normalization.{name} holds non-numbers") from None
        if arr.ndim != 1 or not np.isfinite(arr).all():
            raise _refuse(path, f"normalization.{name} holds NaN/inf or is not a flat list")
        if name.endswith("std") and not ((arr >= lo) & (arr <= hi)).all():
            worst = arr[(arr < lo) | (arr > hi)][0]
            raise _refuse(path, f"normalization.{name} holds {worst:g} (a std must lie in {lo:g}..{hi:g})")
        if name.endswith("mean") and np.abs(arr).max(initial=0.0) > MAX_ABS_WEIGHT:
            worst = np.abs(arr).max()
            raise _refuse(path, f"normalization.{name} holds {worst:g} (beyond {MAX_ABS_WEIGHT:g})")
    if len(n.obs_std) != len(n.obs_mean) or len(n.action_std) != len(n.action_mean):
        raise _refuse(path, "normalization means and stds differ in length")


def _check_net(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    wrong = [f"{k}: {t.dtype}" for k, t in tensors.items() if t.dtype != torch.float32]
    if wrong:
        raise _refuse(path, f"tensors must be float32, found {', '.join(wrong[:3])}")
    problem = value_problems(tensors, MAX_ABS_WEIGHT)
    if problem:
        raise _refuse(path, problem)


def save_policy(
    directory: str | Path, net: PolicyNet, config: PolicyConfig, task_table: np.ndarray | None
) -> Path:
    """Write ``policy.safetensors`` + ``policy.json`` into ``directory`` (created if needed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    if task_table is not None:
        tensors[TASK_TABLE_KEY] = torch.as_tensor(np.asarray(task_table, np.float32))
    document = json.loads(json.dumps(config.to_json()))
    write_json(directory / POLICY_JSON, document)
    metadata = {"vipflow_policy_format": config.format_version, HASH_KEY: content_hash(document, tensors)}
    save_tensors(directory / POLICY_WEIGHTS, tensors, metadata)
    return directory


def read_policy(directory: Path) -> tuple[PolicyConfig, PolicyNet, np.ndarray | None]:
    """Load a checkpoint directory into (config, net in eval mode, task table or None).

    Everything is checked before use: finite float32 weights of sane size, finite normalisation
    statistics with a positive std, shapes that match ``policy.json``, and a finite output.
    """
    document = _read_json(directory / POLICY_JSON)
    try:
        config = PolicyConfig.from_json(document)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(
            f"{directory / POLICY_JSON} does not describe a vipflow policy: {type(e).__name__}: {one_line(e)}"
        ) from None
    _check_config(directory / POLICY_JSON, config)
    tensors, metadata = _load_tensors(directory / POLICY_WEIGHTS)
    _check_net(directory / POLICY_WEIGHTS, tensors)
    stored_hash = metadata.get(HASH_KEY)
    all_tensors = dict(tensors)
    table = tensors.pop(TASK_TABLE_KEY, None)
    net = build_policy_net(config.input_dim, config.action_dim, config.hidden_sizes, config.head)
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        raise CheckpointError(
            f"{directory / POLICY_WEIGHTS} does not match {POLICY_JSON} (hidden sizes {config.hidden_sizes}, "
            f"input {config.input_dim}, head {config.head}): {one_line(e)}"
        ) from None
    net.eval()
    if config.task_conditioning != "none" and (
        table is None or table.shape != (len(config.tasks), config.task_dim)
    ):
        raise CheckpointError(
            f"{directory / POLICY_WEIGHTS} lacks a task table of shape ({len(config.tasks)}, "
            f"{config.task_dim}) for its {config.task_conditioning} task conditioning"
        )
    with torch.inference_mode():
        probe = net(torch.zeros(1, config.input_dim))[0]
    if not bool(torch.isfinite(probe).all()):
        raise _refuse(directory / POLICY_WEIGHTS, "the network's output is NaN/inf for a zero observation")
    _check_hash(directory / POLICY_WEIGHTS, stored_hash, document, all_tensors)
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
    document = json.loads(json.dumps(
        {"step": step, "param_groups": sd["param_groups"], "optimizer_scalars": scalars, **extra}
    ))
    write_json(directory / STATE_JSON, document)
    save_tensors(directory / STATE_TENSORS, tensors, {HASH_KEY: content_hash(document, tensors)})


def _check_training_meta(path: Path, meta: Any) -> int:
    """The saved step and optimiser hyper-parameters, refused when they cannot be real."""
    groups = meta.get("param_groups") if isinstance(meta, dict) else None
    if not isinstance(groups, list) or not groups:
        raise _refuse(path, "it lacks the step and optimiser parameters")
    step = meta.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step <= MAX_STEP:
        raise _refuse(path, f"the saved step {step!r} is not an integer in 0..{MAX_STEP:g}")
    named = re.fullmatch(r"step_(\d+)", path.parent.name)
    if named and int(named.group(1)) != step:
        raise _refuse(path, f"the saved step {step} differs from the checkpoint's name {path.parent.name}")
    for g in meta["param_groups"]:
        if not isinstance(g, dict):
            raise _refuse(path, "param_groups holds a non-object")
        checks = {
            "lr": lambda v: v > 0,
            "eps": lambda v: 0 < v < 1,
            "weight_decay": lambda v: 0 <= v < 1e3,
            "betas": lambda v: all(0 <= b < 1 for b in v),
        }
        for key, ok in checks.items():
            value = g.get(key)
            values = value if isinstance(value, list) else [value]
            numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
            if key in g and not (numeric and all(math.isfinite(v) for v in values) and ok(value)):
                raise _refuse(path, f"the optimiser's {key} is {value!r}")
    return step


def _check_moments(directory: Path, optimizer: torch.optim.Optimizer, step: int) -> None:
    """Adam moments of the right shapes, finite, second moments >= 0, step counters sane."""
    path = directory / STATE_TENSORS
    for group in optimizer.param_groups:
        for p in group["params"]:
            for key, value in optimizer.state.get(p, {}).items():
                if not torch.is_tensor(value):
                    continue
                if key in ("exp_avg", "exp_avg_sq") and value.shape != p.shape:
                    raise _refuse(path, f"{key} has shape {tuple(value.shape)}, the weights {tuple(p.shape)}")
                if not bool(torch.isfinite(value).all()):
                    raise _refuse(path, f"the optimiser's {key} holds NaN/inf")
                if key == "exp_avg_sq" and bool((value < 0).any()):
                    raise _refuse(path, "the optimiser's exp_avg_sq holds negative values")
                if key == "step" and not 0 <= float(value) <= MAX_STEP:
                    raise _refuse(path, f"the optimiser's step counter is {float(value):g}")


def load_training_state(
    directory: Path, optimizer: torch.optim.Optimizer, generator: torch.Generator
) -> dict[str, Any]:
    """Restore optimiser moments and the sampler RNG in place; return the JSON part (with ``step``).

    Refused with CheckpointError before anything trains: a step count or optimiser parameter that
    cannot be real (NaN learning rate, a step of 1e12), or NaN/inf/wrongly shaped Adam moments.
    """
    meta = _read_json(directory / STATE_JSON)
    step = _check_training_meta(directory / STATE_JSON, meta)
    tensors, metadata = _load_tensors(directory / STATE_TENSORS)
    _check_hash(directory / STATE_TENSORS, metadata.get(HASH_KEY), meta, tensors)
    state: dict[int, dict[str, Any]] = {}
    try:
        for name, value in tensors.items():
            if name.startswith("optim."):
                _, idx, key = name.split(".", 2)
                state.setdefault(int(idx), {})[key] = value
        for idx, scalars in dict(meta.get("optimizer_scalars", {})).items():
            state.setdefault(int(idx), {}).update(scalars)
        groups = meta["param_groups"]
        for g in groups:
            if "betas" in g:
                g["betas"] = tuple(g["betas"])
        optimizer.load_state_dict({"state": state, "param_groups": groups})
        generator.set_state(tensors["sampler_rng"])
    except (KeyError, ValueError, RuntimeError, TypeError, AttributeError) as e:
        raise CheckpointError(
            f"training state in {directory} does not fit this run: {type(e).__name__}: {one_line(e)}"
        ) from None
    _check_moments(directory, optimizer, step)
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
