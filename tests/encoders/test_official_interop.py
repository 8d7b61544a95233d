"""Interop with the official releases beyond the release files: LIV training snapshots as
``train_liv.py`` saves them, and the official READMEs' PIL preprocessing, pixel for pixel."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from encoder_reference import (
    IMAGENET,
    clip_rn50,
    liv_image_forward,
    save_convnet,
    save_official,
    torchvision_convnet,
)
from PIL import Image

from vipflow.encoders import CheckpointLayoutError, load_encoder
from vipflow.encoders.preprocess import PreprocessConfig


def half_like_convert_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """LIV on CUDA runs clip.model.convert_weights: conv, linear, attention and projection weights
    in fp16, the rest fp32. Rounds ``model`` to those values and returns its state dict."""
    halved = ("conv", "fc", "proj", "in_proj", "out_proj", "c_fc", "c_proj", "text_projection")
    state = {}
    for key, value in model.state_dict().items():
        if value.is_floating_point() and any(part in key for part in halved):
            value = value.half()
        state[key] = value
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return state


@pytest.mark.slow
def test_liv_training_snapshot_loads(tmp_path, frames):
    clip = clip_rn50()
    state = half_like_convert_weights(clip)
    params = [p for p in clip.parameters()][:3]
    opt = torch.optim.Adam(params, lr=1e-5, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.001)
    sum(p.float().sum() for p in params).backward()
    opt.step()
    snapshot = tmp_path / "snapshot_10000.pt"  # train_liv.py: sdict = {liv, optimizer, global_step}
    torch.save({"liv": {f"model.{k}": v for k, v in state.items()}, "optimizer": opt.state_dict(),
                "global_step": 10000}, snapshot)
    enc = load_encoder("liv", snapshot)
    ref = liv_image_forward(clip.eval(), frames)
    ours = enc.embed_images(frames)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5 * float(np.abs(ref).max()))


def test_liv_weights_without_prefix_and_without_snapshot_keys_are_still_refused(tmp_path):
    path = save_official(tmp_path / "liv.pt", "liv", {"model.logit_scale": torch.ones(())}, prefix="")
    with pytest.raises(CheckpointLayoutError, match=r"lack the prefix 'module\.'"):
        load_encoder("liv", path)


def camera_frames() -> np.ndarray:
    """Two 480x640 frames with smooth gradients and sharp edges, like a real scene (downsampled)."""
    y, x = np.mgrid[0:480, 0:640]
    a = np.stack([x * 255 / 639, y * 255 / 479, (x + y) * 255 / 1118], axis=-1)
    b = a.copy()
    b[100:300, 200:420] = (30, 200, 90)
    b[(x - 500) ** 2 + (y - 380) ** 2 < 60**2] = (240, 20, 20)
    return np.stack([a, b]).round().astype(np.uint8)


def unnormalize(x: torch.Tensor) -> torch.Tensor:
    return x * torch.tensor(IMAGENET.std).view(1, 3, 1, 1) + torch.tensor(IMAGENET.mean).view(1, 3, 1, 1)


@torch.no_grad()
def readme_vip(convnet: torch.nn.Module, frames: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
    """VIP README: T.Compose([Resize(256), CenterCrop(224), ToTensor()]) on a PIL image, x255, then
    the model (/255 as max > 2, no resize at 3x224x224, ImageNet Normalize)."""
    pre = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor()])
    x = torch.stack([pre(Image.fromarray(f)) for f in frames]) * 255.0
    x = IMAGENET(x / 255.0)
    return x, convnet(x).numpy()


@pytest.mark.slow
def test_pil_resize_reproduces_the_readme_pipeline(tmp_path):
    frames = camera_frames()
    convnet = torchvision_convnet("resnet18", 64)
    path = save_convnet(tmp_path / "vip.pt", "vip", convnet)
    ref_input, ref = readme_vip(convnet, frames)

    pil = load_encoder("vip", path, pil_resize=True)
    ours_input = pil.transform(torch.from_numpy(frames))
    np.testing.assert_allclose(ours_input.numpy(), ref_input.numpy(), atol=1e-6)  # same pixels
    np.testing.assert_allclose(pil.embed_images(frames), ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())

    tensor = load_encoder("vip", path)  # the default: the model's own tensor resize
    pixels = unnormalize(tensor.transform(torch.from_numpy(frames)))
    grey = (pixels - unnormalize(ref_input)).abs().max().item() * 255
    assert 0 < grey <= 1.5  # about one grey level apart ...
    rel = np.abs(tensor.embed_images(frames) - ref).max() / np.abs(ref).max()
    print(f"tensor vs README: {grey:.3f} grey levels, embeddings {rel:.2e} relative")
    assert rel > 1e-4  # ... which the embedding shows; the PIL path is exact
    assert pil.fingerprint != tensor.fingerprint


def test_pil_backend_keeps_old_fingerprints_and_round_trips():
    cfg = PreprocessConfig()
    assert "resize_backend" not in cfg.to_json()  # existing exports and caches keep their fingerprint
    pil = cfg.with_pil_resize()
    assert PreprocessConfig.from_json(pil.to_json()) == pil and not pil.skip_at_crop_size
    with pytest.raises(ValueError, match="native size"):
        PreprocessConfig(resize=None, crop=None).with_pil_resize()
