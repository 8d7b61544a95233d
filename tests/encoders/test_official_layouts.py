"""Official release layouts written from randomly initialised torchvision/open_clip models load
through the registry and reproduce the official forward within 1e-5."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from encoder_reference import (
    clip_rn50,
    liv_image_forward,
    r3m_forward,
    save_convnet,
    save_official,
    torchvision_convnet,
    vip_forward,
)

from vipflow.encoders import load_encoder


def assert_same(ours: np.ndarray, ref: np.ndarray, tol: float = 1e-5) -> None:
    assert ours.shape == ref.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol * float(np.abs(ref).max()))


@pytest.mark.slow
def test_vip_resnet50_release_layout(tmp_path, frames):
    convnet = torchvision_convnet("resnet50", 1024)
    path = save_convnet(tmp_path / "model.pt", "vip", convnet)
    enc = load_encoder("vip", path)
    assert (enc.name, enc.arch, enc.embed_dim, enc.similarity) == ("vip", "resnet50", 1024, "l2")
    assert_same(enc.embed_images(frames), vip_forward(convnet, frames))


def test_vip_small_head_arch_inferred(tmp_path, frames):
    """resnet18 with hidden_dim 16: arch and head size come from the file."""
    convnet = torchvision_convnet("resnet18", 16)
    path = save_convnet(tmp_path / "model.pt", "vip", convnet)
    enc = load_encoder("vip", path)
    assert (enc.arch, enc.embed_dim) == ("resnet18", 16)
    assert_same(enc.embed_images(frames), vip_forward(convnet, frames))
    square = np.ascontiguousarray(np.resize(frames, (2, 224, 224, 3)))
    assert_same(enc.embed_images(square), vip_forward(convnet, square))


def test_vip_released_forward_crops_224_input(tmp_path):
    """legacy_vip_crop reproduces the released code's Resize(256)+CenterCrop(224) on 224x224 input."""
    convnet = torchvision_convnet("resnet18", 8)
    path = save_convnet(tmp_path / "model.pt", "vip", convnet)
    square = np.random.default_rng(3).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    legacy = load_encoder("vip", path, legacy_vip_crop=True).embed_images(square)
    current = load_encoder("vip", path).embed_images(square)
    assert_same(legacy, vip_forward(convnet, square, released=True))
    assert_same(current, vip_forward(convnet, square, released=False))
    assert not np.allclose(legacy, current, rtol=1e-3)


def test_r3m_layout_drops_language_head(tmp_path, frames):
    convnet = torchvision_convnet("resnet18", None)
    state = {f"convnet.{k}": v for k, v in convnet.state_dict().items()}
    state["lang_rew.pred.0.weight"] = torch.zeros(4, 4)  # present in language-head releases
    state["lang_enc.model.embeddings.weight"] = torch.zeros(2, 2)
    enc = load_encoder("r3m", save_official(tmp_path / "r3m.pt", "r3m", state))
    assert (enc.arch, enc.embed_dim) == ("resnet18", 512)
    assert_same(enc.embed_images(frames), r3m_forward(convnet, frames))


def test_r3m_resnet34_arch_inferred(tmp_path):
    convnet = torchvision_convnet("resnet34", None)
    path = save_convnet(tmp_path / "r3m.pt", "r3m", convnet)
    assert load_encoder("r3m", path).arch == "resnet34"


@pytest.mark.slow
def test_imagenet_resnet50_torchvision_file(tmp_path, frames):
    """torchvision's file has an fc (dropped: the baseline embeds the pooled 2048-d feature) and,
    being old, no BatchNorm num_batches_tracked counters."""
    net = torchvision_convnet("resnet50", None)
    net.fc = torch.nn.Linear(2048, 1000)
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    enc = load_encoder("resnet50", save_official(tmp_path / "resnet50-0676ba61.pth", None, state, prefix=""))
    net.fc = torch.nn.Identity()
    assert enc.embed_dim == 2048
    assert_same(enc.embed_images(frames), r3m_forward(net, frames))


@pytest.mark.slow
def test_liv_layout_image_and_text(tmp_path, frames):
    import open_clip

    clip = clip_rn50()
    path = save_official(tmp_path / "liv.pt", "liv", {f"model.{k}": v for k, v in clip.state_dict().items()})
    enc = load_encoder("liv", path)
    assert (enc.arch, enc.embed_dim, enc.similarity) == ("rn50", 1024, "cosine")
    assert_same(enc.embed_images(frames), liv_image_forward(clip, frames))
    texts = ["fold the towel", "Close the drawer!"]
    with torch.no_grad():
        ref_text = clip.encode_text(open_clip.get_tokenizer("RN50")(texts)).numpy()
    assert_same(enc.embed_text(texts), ref_text)
