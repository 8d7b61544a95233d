"""Reading official release checkpoints and our safetensors export, with a strict key check.

Official files are read with ``torch.load(weights_only=True)`` only; our export is a
``.safetensors`` file whose metadata says how to rebuild the encoder.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from vipflow.encoders.errors import (
    CheckpointLayoutError,
    CheckpointShapeError,
    CheckpointValueError,
    CorruptCheckpointError,
)
from vipflow.encoders.families import FAMILIES, Family
from vipflow.encoders.preprocess import PreprocessConfig
from vipflow.tensorfile import TensorFileError, dtype_problems, read_tensors, save_tensors, value_problems

EXPORT_FORMAT = "1"
_SHOW_KEYS = 8


@dataclass(frozen=True)
class ExportInfo:
    """The metadata block of our safetensors export."""

    family: str
    arch: str
    embed_dim: int
    head_dim: int | None
    preprocess: PreprocessConfig

    def to_metadata(self) -> dict[str, str]:
        return {
            "vipflow_format": EXPORT_FORMAT,
            "family": self.family,
            "arch": self.arch,
            "embed_dim": str(self.embed_dim),
            "head_dim": str(self.head_dim or 0),  # 0: no projection head
            "preprocess": self.preprocess.to_json(),
        }


def is_safetensors(path: Path) -> bool:
    """Sniff the header (8-byte little-endian length, then a JSON object) rather than trust the suffix."""
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9:
        return False
    return head[8:9] == b"{" and int.from_bytes(head[:8], "little") < path.stat().st_size


def read_export(path: Path) -> tuple[ExportInfo, dict[str, torch.Tensor]]:
    try:
        state, meta = read_tensors(path)
    except (TensorFileError, OSError) as exc:
        raise CorruptCheckpointError(f"{exc}; the file is truncated or damaged - export it again") from None
    if meta.get("vipflow_format") != EXPORT_FORMAT:
        raise CheckpointLayoutError(
            f"{path}: safetensors file without vipflow metadata "
            f"(vipflow_format={meta.get('vipflow_format')!r}, expected {EXPORT_FORMAT!r}); "
            "write it with vipflow.encoders.save_encoder"
        )
    try:
        info = ExportInfo(
            family=meta["family"],
            arch=meta["arch"],
            embed_dim=int(meta["embed_dim"]),
            head_dim=int(meta.get("head_dim", "0")),
            preprocess=PreprocessConfig.from_json(meta["preprocess"]),
        )
        if not 0 < info.embed_dim <= 65_536 or not 0 <= (info.head_dim or 0) <= 65_536:
            raise ValueError(f"embed_dim {info.embed_dim} / head_dim {info.head_dim} out of range")
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise CorruptCheckpointError(f"{path}: vipflow metadata is incomplete or malformed ({exc!r})") \
            from exc
    return info, state


def write_export(path: Path, info: ExportInfo, module: nn.Module) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_tensors(path, module.state_dict(), info.to_metadata())  # atomic; never replaces a device


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _some(keys: list[str]) -> str:
    return f"{keys[:_SHOW_KEYS]}{' ...' if len(keys) > _SHOW_KEYS else ''}"


def _torch_load(path: Path) -> object:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CorruptCheckpointError(
            f"{path}: refused to unpickle ({_first_line(exc)}). Only plain tensor checkpoints load "
            "(weights_only=True); re-save the state dict with torch.save(model.state_dict(), path)"
        ) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorruptCheckpointError(
            f"{path}: cannot read the checkpoint ({_first_line(exc)}); "
            "the file is truncated or not a PyTorch checkpoint - download it again"
        ) from exc


# What the official trainers save beside the weights (train_liv.py / train_representation.py
# snapshots): a training snapshot, whose weights may lack the DataParallel `module.` prefix.
SNAPSHOT_KEYS = frozenset({"optimizer", "global_step"})


def read_official(family: Family, path: Path) -> dict[str, torch.Tensor]:
    """Official release file -> state dict with our key names (ignored keys dropped).

    Also reads the official trainers' snapshots (e.g. LIV's ``train_liv.py``: ``{'liv':
    model.module.state_dict(), 'optimizer': ..., 'global_step': n}``, no ``module.`` prefix); the
    optimizer state and step are ignored.
    """
    obj = _torch_load(path)
    snapshot = isinstance(obj, dict) and family.official_key in obj and bool(SNAPSHOT_KEYS & set(obj))
    if not isinstance(obj, dict):
        raise CheckpointLayoutError(f"{path}: expected a dict, found {type(obj).__name__}. Expected layout: "
                                    f"{family.layout_hint}")
    if family.official_key is not None:
        if family.official_key not in obj:
            other = [f.name for f in FAMILIES.values() if f.official_key in obj]
            hint = f"; it looks like a {other[0]!r} checkpoint - load it with that name" if other else ""
            found = sorted(map(str, obj))[:_SHOW_KEYS]
            raise CheckpointLayoutError(
                f"{path}: no top-level key {family.official_key!r} (found {found})"
                f"{hint}. Expected layout: {family.layout_hint}"
            )
        obj = obj[family.official_key]
        if not isinstance(obj, dict):
            raise CheckpointLayoutError(f"{path}: {family.official_key!r} holds {type(obj).__name__}, not a "
                                        f"state dict. Expected layout: {family.layout_hint}")
    prefix = family.official_prefix
    if snapshot and not any(str(k).startswith(prefix) for k in obj):
        prefix = ""  # model.module.state_dict(): saved from inside the DataParallel wrapper
    state: dict[str, torch.Tensor] = {}
    bad: list[str] = []
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointLayoutError(f"{path}: entry {key!r} is {type(value).__name__}, not a tensor. "
                                        f"Expected layout: {family.layout_hint}")
        if not key.startswith(prefix):
            bad.append(key)
            continue
        state[family.local_prefix + key[len(prefix):]] = value
    if bad:
        raise CheckpointLayoutError(
            f"{path}: {len(bad)} keys lack the prefix {family.official_prefix!r} (e.g. {bad[:3]}). "
            f"Expected layout: {family.layout_hint}"
        )
    return {k: v for k, v in state.items() if not k.startswith(family.ignored_prefixes)}


def infer_conv_arch(state: dict[str, torch.Tensor]) -> tuple[str, int | None]:
    """(arch, head_dim; 0 = no head) of a ``convnet.*`` state dict, so --arch may be omitted."""
    keys = state.keys()
    if any(k.startswith("convnet.features.") for k in keys):
        arch = "convnet-small"
    elif "convnet.layer1.0.conv3.weight" in keys:
        arch = "resnet50"
    elif "convnet.layer3.5.conv1.weight" in keys:
        arch = "resnet34"
    elif "convnet.layer1.0.conv1.weight" in keys:
        arch = "resnet18"
    else:
        raise CheckpointLayoutError(f"cannot recognise the backbone from keys {sorted(keys)[:_SHOW_KEYS]}")
    head = state.get("convnet.fc.weight")
    return arch, (int(head.shape[0]) if head is not None else 0)


def load_state_strict(module: nn.Module, state: dict[str, torch.Tensor], *, source: str, layout: str) -> None:
    """Copy ``state`` into ``module`` only if keys and shapes match exactly.

    BatchNorm ``num_batches_tracked`` counters may be absent (old torchvision files lack them); they
    do not affect inference and keep the module's value.
    """
    expected = module.state_dict()
    missing = sorted(k for k in expected.keys() - state.keys() if not k.endswith("num_batches_tracked"))
    unexpected = sorted(state.keys() - expected.keys())
    if missing or unexpected:
        raise CheckpointLayoutError(
            f"{source}: checkpoint does not match the expected layout.\n"
            f"  missing keys ({len(missing)}): {_some(missing)}\n"
            f"  unexpected keys ({len(unexpected)}): {_some(unexpected)}\n"
            f"  expected layout: {layout}\n"
            "  Check the encoder name (--encoder) and arch (--arch) match the file."
        )
    wrong = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if wrong:
        raise CheckpointShapeError(
            f"{source}: {len(wrong)} tensors have the wrong shape (first: {wrong[:3]}). The file was made "
            f"for another arch or head size; pass the matching --arch/hidden_dim. Expected layout: {layout}"
        )
    problem = dtype_problems(state, {k: v.dtype for k, v in expected.items()}) or value_problems(state)
    negative_var = [k for k, v in state.items() if k.endswith("running_var") and bool((v < 0).any())]
    if negative_var:
        problem = f"negative BatchNorm variances in {negative_var[:3]}"
    if problem:
        raise CheckpointValueError(
            f"{source}: {problem}. The file is damaged or was edited (a header relabelling F32 as I32, "
            "integer or NaN/inf weights) and would give garbage embeddings; download or export it again"
        )
    merged = dict(expected)
    merged.update(state)
    module.load_state_dict(merged, strict=True)

