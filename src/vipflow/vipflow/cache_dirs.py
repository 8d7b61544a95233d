"""Where vipflow keeps what it can rebuild: ``$VIPFLOW_CACHE``, else ``$XDG_CACHE_HOME/vipflow``,
else ``~/.cache/vipflow`` (embeddings, compiled encoders, ...; each in its own sub-folder)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "VIPFLOW_CACHE"


def cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vipflow"
