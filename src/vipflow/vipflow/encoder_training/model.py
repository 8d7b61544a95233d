"""The trainable encoder: a registry ``Encoder`` plus the forward that training and DDP call.

Training feeds the network exactly what inference feeds it: uint8 crops go through the encoder's
own ``resize_crop`` and ``normalize`` (vipflow.encoders.preprocess), so an exported encoder needs
no separate "training preprocessing". Small archs, which have no fixed input size, are exported
with resize/crop set to the training resolution so that inference on any frame size sees what
training saw.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import torch
from torch import nn

from vipflow.encoder_training.config import TrainConfig
from vipflow.encoders.encoder import Encoder, load_encoder
from vipflow.encoders.families import get_family, resolve_arch
from vipflow.encoders.preprocess import PreprocessConfig


def training_preprocess(config: TrainConfig) -> PreprocessConfig:
    """The family's official preprocessing when training at its crop size, else resize/crop to
    ``image_size`` (e.g. convnet-small at 64 px, ResNet-18 at 112 px)."""
    family = get_family(config.encoder)
    base = family.default_preprocess(resolve_arch(family, config.arch))
    if base.crop == config.image_size:
        return base
    return replace(base, resize=config.image_size, crop=config.image_size, skip_at_crop_size=True)


def build_encoder(config: TrainConfig, device: torch.device) -> Encoder:
    """From ``init_weights`` (official .pt or our export) or, without them, a seeded random init."""
    kwargs = {
        "arch": config.arch,
        "device": str(device),
        "preprocess": training_preprocess(config),
        "hidden_dim": config.hidden_dim,
        "runtime": "eager",  # the weights change every step: nothing to compile; validation embeds eagerly
    }
    if config.init_weights:
        return load_encoder(config.encoder, config.init_weights, **kwargs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*random weights.*")  # training from scratch is the point
        return load_encoder(config.encoder, random_init=True, seed=config.seed, **kwargs)


class TrainModule(nn.Module):
    """What DDP wraps: uint8 (N, 3, S, S) crops (+ LIV token ids) -> (image, text) embeddings.

    Text goes through the same ``forward`` so that DDP sees one forward per step.
    """

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.net = encoder.module
        self._transform = encoder.transform

    def forward(
        self, frames: torch.Tensor, tokens: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        dtype = next(self.net.parameters()).dtype  # fp32 normally; fp64 in exactness tests
        x = frames.to(dtype).div_(255.0)
        x = self._transform.normalize(self._transform.resize_crop(x))
        image = self.net(x.contiguous(memory_format=torch.channels_last))
        text = self.net.encode_text(tokens) if tokens is not None else None
        return image, text
