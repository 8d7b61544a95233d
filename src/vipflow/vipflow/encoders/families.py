"""The encoder registry: one `Family` per model family, saying how to build it and what its
official checkpoint looks like."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from vipflow.encoders.errors import UnknownEncoderError
from vipflow.encoders.nets import CONV_ARCHS, RESNETS, ConvEncoderNet, LIVNet
from vipflow.encoders.preprocess import (
    IMAGENET_RESIZE_CROP,
    LIV_PREPROCESS,
    NATIVE_SIZE,
    PreprocessConfig,
)


@dataclass(frozen=True)
class Family:
    name: str
    similarity: str  # "l2" or "cosine"
    archs: tuple[str, ...]
    default_arch: str
    # Official file: {official_key: {key: tensor}}; official_key None = a bare state dict.
    official_key: str | None
    official_prefix: str  # stripped from official keys ...
    local_prefix: str  # ... and replaced by this to give our keys
    layout_hint: str
    default_head_dim: int | None = None  # VIP's Linear head (hidden_dim); None: no head
    # Official keys that are legitimately present but not part of the image encoder.
    ignored_prefixes: tuple[str, ...] = ()

    def check_arch(self, arch: str | None) -> str:
        arch = arch or self.default_arch
        if arch not in self.archs:
            raise UnknownEncoderError(
                f"encoder {self.name!r} has no arch {arch!r}; choose one of {', '.join(self.archs)}"
            )
        return arch

    def build(self, arch: str, head_dim: int | None = None) -> nn.Module:
        if self.name == "liv":
            return LIVNet()
        if self.default_head_dim is None and head_dim:
            raise UnknownEncoderError(f"encoder {self.name!r} has no projection head; drop hidden_dim")
        return ConvEncoderNet(arch, head_dim if head_dim is not None else self.default_head_dim)

    def default_preprocess(self, arch: str) -> PreprocessConfig:
        if self.name == "liv":
            return LIV_PREPROCESS
        return IMAGENET_RESIZE_CROP if arch in RESNETS else NATIVE_SIZE


FAMILIES: dict[str, Family] = {
    "vip": Family(
        name="vip",
        similarity="l2",
        archs=CONV_ARCHS,
        default_arch="resnet50",
        official_key="vip",
        official_prefix="module.",
        local_prefix="",
        layout_hint=(
            "VIP release model.pt: {'vip': {'module.convnet.conv1.weight', ..., 'module.convnet.fc.weight'}}"
        ),
        default_head_dim=1024,
    ),
    "r3m": Family(
        name="r3m",
        similarity="l2",
        archs=CONV_ARCHS,
        default_arch="resnet50",
        official_key="r3m",
        official_prefix="module.",
        local_prefix="",
        layout_hint="R3M release model.pt: {'r3m': {'module.convnet.conv1.weight', ...}} (no fc)",
        ignored_prefixes=("lang_enc.", "lang_rew."),
    ),
    "liv": Family(
        name="liv",
        similarity="cosine",
        archs=("rn50",),
        default_arch="rn50",
        official_key="liv",
        official_prefix="module.",
        local_prefix="",
        layout_hint=(
            "LIV release model.pt: {'liv': {'module.model.visual.conv1.weight', ..., "
            "'module.model.transformer.resblocks.0.attn.in_proj_weight', ..., 'module.model.logit_scale'}}"
        ),
    ),
    "resnet50": Family(
        name="resnet50",
        similarity="l2",
        archs=("resnet50",),
        default_arch="resnet50",
        official_key=None,
        official_prefix="",
        local_prefix="convnet.",
        layout_hint="torchvision ImageNet file resnet50-0676ba61.pth: {'conv1.weight', ..., 'fc.weight'}",
        ignored_prefixes=("convnet.fc.",),
    ),
}

# Official LIV model id.
ARCH_ALIASES = {"liv": {"resnet50": "rn50", "RN50": "rn50"}}


def get_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise UnknownEncoderError(f"unknown encoder {name!r}; choose one of {', '.join(FAMILIES)}") from None


def resolve_arch(family: Family, arch: str | None) -> str:
    return family.check_arch(ARCH_ALIASES.get(family.name, {}).get(arch, arch) if arch else None)
