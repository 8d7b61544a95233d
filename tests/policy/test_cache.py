"""Embedding cache with a real encoder: hits, invalidation by encoder or content, corruption."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from vipflow.encoders import load_encoder
from vipflow.policy.cache import EmbeddingCache, hash_arrays


def _encoder(seed: int = 0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_encoder("vip", arch="convnet-small", random_init=True, seed=seed)


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(0).integers(0, 255, (6, 32, 32, 3), dtype=np.uint8)


def test_hit_after_miss_and_invalidation(tmp_path, frames):
    enc = _encoder()
    cache = EmbeddingCache(tmp_path)
    first = cache.embed(enc, frames)
    again = cache.embed(enc, frames)
    assert (cache.stats.misses, cache.stats.hits, cache.stats.frames_encoded) == (1, 1, 6)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, enc.embed_images(frames))

    other = _encoder(seed=1)  # other weights -> other fingerprint -> miss
    assert other.fingerprint != enc.fingerprint
    cache.embed(other, frames)
    changed = frames.copy()
    changed[2, 5, 5, 0] ^= 1  # one bit of one pixel
    assert hash_arrays(changed) != hash_arrays(frames)
    cache.embed(enc, changed)
    assert (cache.stats.misses, cache.stats.hits) == (3, 1)
    assert len(list(tmp_path.rglob("*.safetensors"))) == 3


def test_runtime_and_precision_are_part_of_the_key(tmp_path, frames):
    """bf16 embeddings differ from fp32 ones: another inference path must miss, not reuse them."""
    enc = _encoder()
    cache = EmbeddingCache(tmp_path)
    exact = cache.embed(enc, frames)
    compiled = enc.with_inference("onnxruntime", "fp32")
    assert compiled.fingerprint == enc.fingerprint and compiled.inference_tag != enc.inference_tag
    np.testing.assert_allclose(cache.embed(compiled, frames), exact, rtol=1e-5, atol=1e-5)
    cache.embed(enc, frames)
    assert (cache.stats.misses, cache.stats.hits) == (2, 1)
    assert {p.parent.name for p in tmp_path.rglob("*.safetensors")} == {"eager-fp32", "onnxruntime-fp32"}


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupt_entry_is_detected_and_rebuilt(tmp_path, frames, damage):
    enc = _encoder()
    cache = EmbeddingCache(tmp_path)
    good = cache.embed(enc, frames)
    (entry,) = tmp_path.rglob("*.safetensors")
    raw = bytearray(entry.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) - 100]
    elif damage == "flip":
        raw[-10] ^= 0xFF  # inside the embedding bytes: still parses, checksum fails
    else:
        raw = bytearray(b"not a safetensors file")
    entry.write_bytes(bytes(raw))
    fresh = EmbeddingCache(tmp_path)
    rebuilt = fresh.embed(enc, frames)
    assert fresh.stats.rebuilt == 1 and fresh.stats.misses == 1
    np.testing.assert_array_equal(rebuilt, good)
    healthy = EmbeddingCache(tmp_path)  # the rebuilt entry is valid again
    healthy.embed(enc, frames)
    assert healthy.stats.hits == 1


def test_no_cache_dir_always_encodes(frames):
    cache = EmbeddingCache(None)
    enc = _encoder()
    cache.embed(enc, frames)
    cache.embed(enc, frames)
    assert cache.stats.misses == 2 and cache.stats.hits == 0
