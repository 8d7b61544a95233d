"""Fixtures for the episode tests; helpers live in episode_synth.py (importable via sys.path)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    d = tmp_path / "dataset"
    d.mkdir()
    return d
