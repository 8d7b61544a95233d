"""Embedding cache: each frame is encoded once per (encoder fingerprint, frame content).

The key joins the encoder's fingerprint (weights hash + preprocessing, see ``vipflow.encoders``)
with a hash of the exact frames on the control grid, so a new checkpoint, a preprocessing
change, an edited episode or another grid rate all miss the cache instead of returning stale
embeddings. Each entry carries a checksum of its embeddings; an unreadable, truncated or
altered entry is reported, deleted and re-encoded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from vipflow.data_root import data_path

log = logging.getLogger(__name__)

CACHE_ENV = "VIPFLOW_CACHE"


class FrameEncoder(Protocol):
    """What the cache needs from ``vipflow.encoders.Encoder``."""

    fingerprint: str
    embed_dim: int

    def embed_images(
        self, frames: np.ndarray, batch_size: int = 32, progress: bool = False
    ) -> np.ndarray: ...


def default_cache_dir() -> Path:
    """``$VIPFLOW_CACHE/embeddings``, else ``cache/embeddings`` under the data root."""
    root = os.environ.get(CACHE_ENV)
    return (Path(root) if root else data_path("cache")) / "embeddings"


def hash_arrays(*arrays: np.ndarray) -> str:
    """Content hash of arrays, shapes and dtypes included (frames -> cache key; tensors -> data hash)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.shape}|{a.dtype}|".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def _checksum(emb: np.ndarray) -> str:
    return hashlib.sha256(memoryview(np.ascontiguousarray(emb)).cast("B")).hexdigest()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    rebuilt: int = 0  # corrupt entries detected and re-encoded
    frames_encoded: int = 0
    encode_seconds: float = 0.0


class EmbeddingCache:
    """Directory of ``<fingerprint[:16]>/<frames_hash>.safetensors`` entries (``root=None``: no cache)."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = None if root is None else Path(root)
        self.stats = CacheStats()

    def _path(self, fingerprint: str, frames_hash: str) -> Path:
        assert self.root is not None
        return self.root / fingerprint[:16] / f"{frames_hash}.safetensors"

    def _read(self, path: Path, fingerprint: str, frames_hash: str, n: int, dim: int) -> np.ndarray:
        """The entry's embeddings; raises ValueError describing why an entry is unusable."""
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                emb = f.get_tensor("embeddings").numpy()
        except (SafetensorError, OSError, KeyError) as e:
            raise ValueError(f"unreadable ({e})") from None
        if meta.get("fingerprint") != fingerprint or meta.get("frames_hash") != frames_hash:
            raise ValueError("its key does not match its contents")
        if emb.shape != (n, dim) or emb.dtype != np.float32:
            raise ValueError(f"shape {emb.shape} {emb.dtype}, expected ({n}, {dim}) float32")
        if meta.get("checksum") != _checksum(emb):
            raise ValueError("checksum mismatch")
        return emb

    def embed(
        self, encoder: FrameEncoder, frames: np.ndarray, batch_size: int = 32, frames_hash: str | None = None
    ) -> np.ndarray:
        """Embeddings of ``frames``, from the cache when a valid entry exists."""
        frames_hash = frames_hash or hash_arrays(frames)
        path = None
        if self.root is not None:
            path = self._path(encoder.fingerprint, frames_hash)
            if path.exists():
                try:
                    emb = self._read(path, encoder.fingerprint, frames_hash, len(frames), encoder.embed_dim)
                    self.stats.hits += 1
                    return emb
                except ValueError as why:
                    log.warning(
                        "embedding cache entry %s is corrupt (%s); deleting and re-encoding", path, why
                    )
                    path.unlink(missing_ok=True)
                    self.stats.rebuilt += 1
        self.stats.misses += 1
        t0 = time.perf_counter()
        emb = np.ascontiguousarray(encoder.embed_images(frames, batch_size=batch_size), dtype=np.float32)
        self.stats.encode_seconds += time.perf_counter() - t0
        self.stats.frames_encoded += len(frames)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            meta = {
                "fingerprint": encoder.fingerprint,
                "frames_hash": frames_hash,
                "checksum": _checksum(emb),
            }
            save_file({"embeddings": torch.from_numpy(emb)}, str(tmp), metadata=meta)
            os.replace(tmp, path)
        return emb


def open_cache(cache_dir: str | None) -> EmbeddingCache:
    """The cache a run or a goal uses: ``cache_dir``, the default folder when None, none when 'off'."""
    if cache_dir == "off":
        return EmbeddingCache(None)
    return EmbeddingCache(cache_dir or default_cache_dir())
