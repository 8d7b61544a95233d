"""Our safetensors export, fingerprints, the eager inference copy, dtypes, small archs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors import safe_open

from vipflow.encoders import PreprocessConfig, load_encoder, save_encoder


def test_export_roundtrip_keeps_metadata_and_outputs(tmp_path, frames):
    enc = load_encoder("vip", arch="resnet18", hidden_dim=64, random_init=True, seed=3)
    path = save_encoder(enc, tmp_path / "vip18.safetensors")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["vipflow_format"] == "1" and meta["family"] == "vip" and meta["arch"] == "resnet18"
    assert meta["embed_dim"] == "64"
    assert PreprocessConfig.from_json(meta["preprocess"]) == enc.preprocess
    again = load_encoder("vip", path)
    assert (again.arch, again.embed_dim, again.fingerprint) == ("resnet18", 64, enc.fingerprint)
    np.testing.assert_array_equal(again.embed_images(frames), enc.embed_images(frames))


def test_preprocess_travels_with_export(tmp_path):
    custom = PreprocessConfig(resize=96, crop=96, skip_at_crop_size=False)
    enc = load_encoder("vip", arch="convnet-small", random_init=True, preprocess=custom)
    again = load_encoder("vip", save_encoder(enc, tmp_path / "k.safetensors"))
    assert again.preprocess == custom


def test_random_init_is_seeded_and_fingerprint_tracks_weights():
    a = load_encoder("vip", arch="convnet-small", random_init=True, seed=1)
    b = load_encoder("vip", arch="convnet-small", random_init=True, seed=1)
    c = load_encoder("vip", arch="convnet-small", random_init=True, seed=2)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    before = a.fingerprint
    with torch.no_grad():
        next(a.module.parameters()).add_(1.0)  # in place, as an optimiser step does
    assert a.fingerprint != before
    current = load_encoder("vip", arch="resnet18", random_init=True)
    legacy = load_encoder("vip", arch="resnet18", random_init=True, legacy_vip_crop=True)
    assert legacy.fingerprint != current.fingerprint  # preprocessing is part of the fingerprint


def test_inference_copy_follows_training_updates(frames):
    enc = load_encoder("vip", arch="convnet-small", random_init=True)
    first = enc.embed_images(frames)
    with torch.no_grad():
        enc.module.convnet.fc.bias.add_(1.0)
    np.testing.assert_allclose(enc.embed_images(frames), first + 1.0, rtol=1e-5, atol=1e-5)


def test_batches_are_independent(frames):
    enc = load_encoder("vip", arch="resnet18", random_init=True)
    np.testing.assert_allclose(
        enc.embed_images(frames, batch_size=1), enc.embed_images(frames, batch_size=3), rtol=1e-5, atol=1e-6
    )


def test_training_mode_does_not_leak_into_embeddings(frames):
    enc = load_encoder("vip", arch="convnet-small", random_init=True)
    ref = enc.embed_images(frames)
    enc.module.train()
    np.testing.assert_allclose(enc.embed_images(frames), ref, rtol=1e-6, atol=1e-7)
    assert enc.module.training


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_close_to_fp32(frames, dtype):
    ref = load_encoder("vip", arch="convnet-small", random_init=True).embed_images(frames)
    half = load_encoder("vip", arch="convnet-small", random_init=True, dtype=dtype).embed_images(frames)
    assert half.dtype == np.float32
    cos = (half * ref).sum(1) / np.linalg.norm(half, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() > 0.99


def test_convnet_small_is_small_and_takes_sim_sizes():
    enc = load_encoder("vip", arch="convnet-small", random_init=True)
    assert sum(p.numel() for p in enc.module.parameters()) <= 5_000_000
    assert enc.preprocess.resize is None  # native size
    for h, w in ((96, 96), (128, 128), (120, 160)):
        out = enc.embed_images(np.zeros((2, h, w, 3), np.uint8))
        assert out.shape == (2, 1024) and np.isfinite(out).all()
    r3m_small = load_encoder("r3m", arch="convnet-small", random_init=True)
    assert r3m_small.embed_dim == 256


def test_rejects_non_uint8_frames():
    enc = load_encoder("vip", arch="convnet-small", random_init=True)
    with pytest.raises(ValueError, match=r"uint8 RGB frames shaped \(N,H,W,3\)"):
        enc.embed_images(np.zeros((2, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(N,H,W,3\)"):
        enc.embed_images(np.zeros((32, 32, 3), np.uint8))
