"""Independent re-implementations of the official forward passes (reference-models.md §5), and
checkpoint writers in the official layouts, built from torchvision / open_clip directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchvision
import torchvision.transforms as T

IMAGENET = T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
CLIP = T.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))


def randomize_bn(model: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    """Non-trivial BatchNorm statistics, so BN folding and eval mode are really exercised."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model


def torchvision_convnet(arch: str, fc_out: int | None) -> torch.nn.Module:
    torch.manual_seed(123)
    net = getattr(torchvision.models, arch)(weights=None)
    feat = net.fc.in_features
    net.fc = torch.nn.Linear(feat, fc_out) if fc_out else torch.nn.Identity()
    return randomize_bn(net).eval()


def as_model_input(frames: np.ndarray) -> torch.Tensor:
    """What official callers hand the model: float [B,3,H,W] in [0,255]."""
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float()


@torch.no_grad()
def vip_forward(convnet: torch.nn.Module, frames: np.ndarray, released: bool = False) -> np.ndarray:
    """VIP.forward: /255 if max > 2; Resize(256)+CenterCrop(224) unless 3x224x224 (always, in the
    released Oct 2022 code); ImageNet Normalize; convnet."""
    obs = as_model_input(frames)
    if obs.max() > 2.0:
        obs = obs / 255.0
    if released or tuple(obs.shape[1:]) != (3, 224, 224):
        obs = T.Compose([T.Resize(256), T.CenterCrop(224)])(obs)
    return convnet(IMAGENET(obs)).numpy()


@torch.no_grad()
def r3m_forward(convnet: torch.nn.Module, frames: np.ndarray) -> np.ndarray:
    """Documented R3M caller (Resize 256 -> CenterCrop 224, x255) then R3M.forward (/255, Normalize)."""
    obs = as_model_input(frames)
    obs = T.Compose([T.Resize(256), T.CenterCrop(224)])(obs)
    return convnet(IMAGENET(obs / 255.0)).numpy()


@torch.no_grad()
def liv_image_forward(clip_model: torch.nn.Module, frames: np.ndarray) -> np.ndarray:
    """LIV.forward(vision): /255 if max > 10; Resize(224) bilinear without antialias (tensor
    `antialias=None`); CenterCrop(224); CLIP Normalize; encode_image."""
    obs = as_model_input(frames)
    if obs.max() > 10:
        obs = obs / 255.0
    obs = T.Compose([T.Resize(224, antialias=False), T.CenterCrop(224)])(obs)
    return clip_model.encode_image(CLIP(obs)).numpy()


def clip_rn50() -> torch.nn.Module:
    import open_clip

    torch.manual_seed(7)
    model = open_clip.create_model("RN50", pretrained=None, force_quick_gelu=True)
    randomize_bn(model.visual)
    return model.eval()


def save_official(path: Path, key: str | None, state: dict[str, torch.Tensor], prefix: str = "module."):
    """{key: {prefix + name: tensor}} as the releases store it (DataParallel prefix)."""
    sd = {prefix + k: v.clone() for k, v in state.items()}
    torch.save({key: sd} if key else sd, path)
    return path


def save_convnet(path: Path, key: str, convnet: torch.nn.Module) -> Path:
    """VIP / R3M release layout: {key: {'module.convnet.<torchvision key>': tensor}}."""
    return save_official(path, key, {f"convnet.{k}": v for k, v in convnet.state_dict().items()})
