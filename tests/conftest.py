"""Suite-wide fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _session_cache(tmp_path_factory: pytest.TempPathFactory):
    """Compiled encoders and default embedding caches go to one folder per test session, not the
    user's ~/.cache: hermetic, and a compiled model is still shared by every test that needs it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VIPFLOW_CACHE", str(tmp_path_factory.mktemp("vipflow_cache")))
        yield
