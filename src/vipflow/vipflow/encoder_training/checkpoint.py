"""Training checkpoints as safetensors + JSON (no pickle), with everything exact resume needs.

Layout of ``<run>/checkpoints/step_00001000/``:

* ``model.safetensors``     the encoder's state dict (the same keys as the export);
* ``optimizer.safetensors`` every tensor of the optimiser state (Adam moments, step counts);
* ``state.json``            step, config, the optimiser/scaler/RNG state with tensors replaced by
                            references into the safetensors files.

The run folder, the ``last`` pointer and the crash-safe write are ``vipflow.runs``'. The data
stream needs no state: samples are a function of (seed, sample number).
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vipflow.config_schema import DuplicateKeyError, parse_json
from vipflow.durable import atomic_write_text
from vipflow.encoder_training.errors import CheckpointError
from vipflow.errors import one_line
from vipflow.runs import RunLayout
from vipflow.tensorfile import TensorFileError, read_tensors, save_tensors, value_problems

FORMAT = "vipflow-train-checkpoint/1"
TENSOR_REF = "__tensor__"
TUPLE_REF = "__tuple__"
STATE_JSON = "state.json"
TRAINING_RUN = RunLayout("training", STATE_JSON, CheckpointError)
resolve_checkpoint = TRAINING_RUN.resolve  # run folder, checkpoints folder or checkpoint folder


def split_tensors(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-able copy of ``obj`` whose tensors are moved into ``tensors`` (keys from their path)."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous()
        return {TENSOR_REF: prefix}
    if isinstance(obj, dict):
        if not all(isinstance(k, str | int) for k in obj):
            raise CheckpointError(f"cannot store a dict with keys {list(obj)[:3]} at {prefix}")
        # JSON keys are strings; remember which were ints (optimiser state is keyed by param index)
        return {
            "__dict__": [[k, split_tensors(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()],
        }
    if isinstance(obj, tuple):
        return {TUPLE_REF: [split_tensors(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [split_tensors(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, np.integer | np.floating):
        return obj.item()
    raise CheckpointError(f"cannot store a {type(obj).__name__} at {prefix} in a checkpoint")


def join_tensors(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`split_tensors`."""
    if isinstance(obj, dict):
        if TENSOR_REF in obj:
            try:
                return tensors[obj[TENSOR_REF]]
            except KeyError:
                raise CheckpointError(f"checkpoint refers to a missing tensor {obj[TENSOR_REF]!r}") from None
        if TUPLE_REF in obj:
            return tuple(join_tensors(v, tensors) for v in obj[TUPLE_REF])
        return {k: join_tensors(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [join_tensors(v, tensors) for v in obj]
    return obj


def rng_state() -> dict:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class TrainingState:
    step: int
    model: dict[str, torch.Tensor]
    optimizer: dict
    scaler: dict | None
    rng: dict
    config: dict
    extra: dict


def save_checkpoint(run_dir: Path, state: TrainingState, keep: int = 3) -> Path:
    """Write ``state`` as checkpoint ``state.step`` of the run and point ``last`` at it."""

    def write(folder: Path) -> None:
        save_tensors(folder / "model.safetensors", state.model)
        opt_tensors: dict[str, torch.Tensor] = {}
        aux_tensors: dict[str, torch.Tensor] = {}
        meta = {
            "format": FORMAT,
            "step": state.step,
            "config": state.config,
            "extra": state.extra,
            "optimizer": split_tensors(state.optimizer, "optimizer", opt_tensors),
            "scaler": split_tensors(state.scaler, "scaler", aux_tensors),
            "rng": split_tensors(state.rng, "rng", aux_tensors),
        }
        save_tensors(folder / "optimizer.safetensors", opt_tensors)
        save_tensors(folder / "aux.safetensors", aux_tensors)
        atomic_write_text(folder / STATE_JSON, json.dumps(meta, indent=1))

    return TRAINING_RUN.save(run_dir, state.step, write, keep=keep)


def load_checkpoint(path: str | Path) -> TrainingState:
    """A checkpoint, checked before use (finite weights and moments, a sane step and learning rate)."""
    ckpt = resolve_checkpoint(path)
    try:
        meta = parse_json((ckpt / STATE_JSON).read_text())
        model = read_tensors(ckpt / "model.safetensors")[0]
        opt_tensors = read_tensors(ckpt / "optimizer.safetensors")[0]
        aux_tensors = read_tensors(ckpt / "aux.safetensors")[0]
    except (OSError, ValueError, DuplicateKeyError, TensorFileError) as e:
        raise CheckpointError(
            f"checkpoint {ckpt} is incomplete or corrupt ({one_line(e)}); resume from an earlier one"
        ) from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        what = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{ckpt} is not a vipflow training checkpoint (format {what!r})")
    try:
        state = TrainingState(
            step=meta["step"],
            model=model,
            optimizer=join_tensors(meta["optimizer"], opt_tensors),
            scaler=join_tensors(meta["scaler"], aux_tensors),
            rng=join_tensors(meta["rng"], aux_tensors),
            config=meta["config"],
            extra=meta.get("extra", {}),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(
            f"checkpoint {ckpt}/{STATE_JSON} is malformed ({type(e).__name__}: {one_line(e)}); resume from "
            "an earlier one"
        ) from None
    problem = _state_problem(state, opt_tensors)
    if problem:
        raise CheckpointError(f"checkpoint {ckpt} cannot be resumed: {problem}; resume from an earlier one")
    return state


def _state_problem(state: TrainingState, opt_tensors: dict[str, torch.Tensor]) -> str:
    """What makes a loaded checkpoint unusable (non-finite weights or moments, impossible numbers)."""
    if not isinstance(state.step, int) or isinstance(state.step, bool) or not 0 <= state.step <= 10**9:
        return f"the saved step {state.step!r} is not an integer in 0..1e9"
    problem = value_problems(state.model) or value_problems(opt_tensors)
    if problem:
        return problem
    if any(k.endswith("exp_avg_sq") and bool((v < 0).any()) for k, v in opt_tensors.items()):
        return "negative Adam second moments"
    groups = state.optimizer.get("param_groups") if isinstance(state.optimizer, dict) else None
    for g in groups if isinstance(groups, list) else [None]:
        lr = g.get("lr") if isinstance(g, dict) else None
        if not isinstance(lr, int | float) or isinstance(lr, bool) or not math.isfinite(lr) or lr < 0:
            return f"the optimiser's learning rate is {lr!r}"
    return ""
