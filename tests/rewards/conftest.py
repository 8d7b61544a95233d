"""Fixtures for reward/metric/CLI tests; sequence builders live in reward_sequences.py."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _one_thread_quiet_random_init():
    """Shared cores: one thread. Random-init encoders warn by design; silence that here."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*random weights", category=UserWarning)
        yield
    torch.set_num_threads(old)
