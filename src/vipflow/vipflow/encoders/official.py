"""The official release files (VIP, R3M, LIV, torchvision's ResNet-50) and where downloads live.

A module of its own so that `load_encoder` can look for a downloaded file and `download` can verify
one with `load_encoder`, without either importing the other's module at call time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from vipflow.data_root import data_path
from vipflow.encoders.errors import UnknownEncoderError


def default_weights_dir() -> Path:
    """Where `vipflow weights download` puts files: $VIPFLOW_WEIGHTS_DIR, else ``cache/weights`` under
    the data root."""
    folder = os.environ.get("VIPFLOW_WEIGHTS_DIR")
    return Path(folder) if folder else data_path("cache", "weights")


@dataclass(frozen=True)
class WeightsFile:
    key: str  # name on the command line
    family: str
    arch: str
    filename: str
    urls: tuple[str, ...]
    licence: str
    sha256: str | None = None  # full digest, when the publisher gives one
    sha256_prefix: str | None = None  # leading hex digits (torchvision file names)


WEIGHTS: dict[str, WeightsFile] = {
    w.key: w
    for w in (
        WeightsFile(
            "vip", "vip", "resnet50", "vip_resnet50.pt",
            ("https://pytorch.s3.amazonaws.com/models/rl/vip/model.pt",),
            "CC BY-NC 4.0 (non-commercial)",
        ),
        *(  # the three R3M releases differ only in depth
            WeightsFile(
                f"r3m-resnet{depth}", "r3m", f"resnet{depth}", f"r3m_resnet{depth}.pt",
                (f"https://pytorch.s3.amazonaws.com/models/rl/r3m/r3m_{depth}.pt",), "MIT",
            )
            for depth in (50, 34, 18)
        ),
        WeightsFile(
            "liv", "liv", "rn50", "liv_rn50.pt",
            ("https://huggingface.co/jasonyma/LIV/resolve/main/model.pt",), "MIT",
        ),
        WeightsFile(
            "resnet50", "resnet50", "resnet50", "resnet50-0676ba61.pth",
            ("https://download.pytorch.org/models/resnet50-0676ba61.pth",),
            "BSD-3-Clause (torchvision)", sha256_prefix="0676ba61",
        ),
    )
}
# `weights download r3m` means the ResNet-50 one, like the official loader's default.
ALIASES = {"r3m": "r3m-resnet50"}


def get_weights_file(key: str) -> WeightsFile:
    key = ALIASES.get(key, key)
    if key not in WEIGHTS:
        raise UnknownEncoderError(f"no official weights named {key!r}; choose one of {', '.join(WEIGHTS)}")
    return WEIGHTS[key]


def find_downloaded(family: str, arch: str) -> Path | None:
    """The downloaded file for (family, arch), also checking torchvision's own cache for ResNet-50."""
    for w in WEIGHTS.values():
        if w.family == family and w.arch == arch:
            for folder in (default_weights_dir(), Path(torch.hub.get_dir()) / "checkpoints"):
                if (folder / w.filename).is_file():
                    return folder / w.filename
    return None
