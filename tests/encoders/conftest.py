"""Fixtures for the encoder tests; the official-forward re-implementations live in
encoder_reference.py (importable via sys.path)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _one_thread_quiet_random_init():
    """The machine's cores are shared; one thread keeps the suite predictable. Random-init encoders
    warn by design (tested once in test_errors.py); silence that here."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*random weights", category=UserWarning)
        yield
    torch.set_num_threads(old)


@pytest.fixture(autouse=True)
def _no_downloaded_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Never pick up weights from the user's cache; torch hub cache redirected too."""
    monkeypatch.setenv("VIPFLOW_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


@pytest.fixture
def frames() -> np.ndarray:
    """Three non-square frames (needs resize+crop) of structured content."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, size=(3, 60, 80, 3), dtype=np.uint8)
    return np.ascontiguousarray(base.repeat(2, axis=1).repeat(2, axis=2))  # 120x160
