"""safetensors files: written durably, read without ever crashing, checked before use.

Policies, training checkpoints, encoder exports and the embedding cache are safetensors files.
A damaged or hand-edited one must never run silently: a header that relabels F32 as I32 still
parses, and a NaN weight still loads. So reads go through :func:`read_tensors` (every parser
failure becomes :class:`TensorFileError`), and callers check dtypes and values against what the
architecture expects with :func:`dtype_problems` / :func:`value_problems`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from vipflow.durable import atomic_write_bytes
from vipflow.errors import one_line

_SHOW = 3


class TensorFileError(ValueError):
    """A safetensors file cannot be parsed (truncated, bad header, bad offsets)."""


def save_tensors(
    path: Path, tensors: Mapping[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> None:
    """Serialise and write atomically (temporary file + rename; DiskFullError on ENOSPC, and a
    device, FIFO or symlink at ``path`` is refused, never replaced)."""
    data = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, metadata=metadata)
    atomic_write_bytes(Path(path), data)


def read_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) of a safetensors file; TensorFileError for any unreadable content."""
    try:
        tensors: dict[str, torch.Tensor] = {}
        with safe_open(str(path), framework="pt") as f:
            metadata = dict(f.metadata() or {})
            for key in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                tensors[key] = f.get_tensor(key)
    except (SafetensorError, ValueError, TypeError, RuntimeError, OverflowError, MemoryError) as exc:
        raise TensorFileError(f"{path}: not a readable safetensors file ({one_line(exc, 200)})") from None
    return tensors, metadata


def _some(names: list[str]) -> str:
    return ", ".join(names[:_SHOW]) + (f" (+{len(names) - _SHOW} more)" if len(names) > _SHOW else "")


def dtype_problems(tensors: Mapping[str, torch.Tensor], expected: Mapping[str, torch.dtype]) -> str:
    """'' if every tensor has a dtype of the same kind as expected (floating where the model is
    floating, integer where it counts), else a description of the mismatches."""
    wrong = [
        f"{k} is {t.dtype} (expected {expected[k]})"
        for k, t in tensors.items()
        if k in expected
        and (t.dtype.is_floating_point != expected[k].is_floating_point or t.dtype == torch.bool)
    ]
    return f"{len(wrong)} tensor(s) of the wrong type: {_some(wrong)}" if wrong else ""


def value_problems(tensors: Mapping[str, torch.Tensor], max_abs: float | None = None) -> str:
    """'' if every floating tensor is finite (and within ``max_abs``), else what is wrong."""
    bad, huge = [], []
    for k, t in tensors.items():
        if not t.dtype.is_floating_point or t.numel() == 0:
            continue
        finite = torch.isfinite(t)
        if not bool(finite.all()):
            bad.append(f"{k} ({int((~finite).sum())} NaN/inf)")
        elif max_abs is not None and float(t.abs().max()) > max_abs:
            huge.append(f"{k} (|max| {float(t.abs().max()):.3g})")
    parts = []
    if bad:
        parts.append(f"non-finite values in {_some(bad)}")
    if huge:
        parts.append(f"values beyond {max_abs:g} in {_some(huge)}")
    return "; ".join(parts)
