"""Network definitions, with attribute names chosen so that our state-dict keys equal the official
ones minus the DataParallel ``module.`` prefix (VIP/R3M ``convnet.*``, LIV ``model.*``)."""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from vipflow.encoders.errors import UnknownEncoderError

RESNETS = {"resnet18": 512, "resnet34": 512, "resnet50": 2048}


class ConvNetSmall(nn.Module):
    """A ~1.2M-parameter conv net for tests and the simulator's kitchen encoder.

    Four stride-2 stages (32-64-128-256 channels), global average pooling and an ``fc`` slot laid
    out like torchvision's ResNet, so the VIP head replaces ``fc`` the same way.
    """

    widths = (32, 64, 128, 256)

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for cout in self.widths:
            layers += [
                nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
                nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc: nn.Module = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


SMALL_ARCHS = {"convnet-small": (ConvNetSmall, ConvNetSmall.widths[-1])}
CONV_ARCHS = (*RESNETS, *SMALL_ARCHS)


class ConvEncoderNet(nn.Module):
    """VIP / R3M / ImageNet-ResNet image tower: ``convnet`` with ``fc`` = Linear head or Identity."""

    def __init__(self, arch: str, head_dim: int | None) -> None:
        super().__init__()
        if arch in RESNETS:
            convnet = getattr(torchvision.models, arch)(weights=None)
            feat_dim = RESNETS[arch]
        elif arch in SMALL_ARCHS:
            factory, feat_dim = SMALL_ARCHS[arch]
            convnet = factory()
        else:
            raise UnknownEncoderError(f"unknown conv arch {arch!r}; choose one of {', '.join(CONV_ARCHS)}")
        head_dim = max(head_dim or 0, 0)  # official VIP: hidden_dim <= 0 means no head
        convnet.fc = nn.Linear(feat_dim, head_dim) if head_dim else nn.Identity()
        self.convnet = convnet
        self.embed_dim = head_dim or feat_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convnet(x)


class LIVNet(nn.Module):
    """LIV: the OpenAI CLIP RN50 tree (QuickGELU) built by open_clip, under ``model``."""

    embed_dim = 1024

    def __init__(self) -> None:
        super().__init__()
        import open_clip

        self.model = open_clip.create_model("RN50", pretrained=None, force_quick_gelu=True)
        self.context_length = self.model.context_length

    @property
    def image_tower(self) -> nn.Module:
        return self.model.visual

    @property
    def text_tower(self) -> nn.Module:
        return TextTower(self.model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(x)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.model.encode_text(tokens)


class TextTower(nn.Module):
    """LIV's text encoder as a module of its own (token ids -> embedding), so that the inference
    runtimes can export it like an image tower. Shares its weights with the CLIP model."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.model.encode_text(tokens)


def tokenize(texts: list[str]) -> torch.Tensor:
    """CLIP BPE tokens (context 77, SOT/EOT, zero padding); the vocabulary ships with open_clip, so
    this works offline. Over-long sentences are truncated rather than raising."""
    import open_clip

    return open_clip.get_tokenizer("RN50")(texts)
