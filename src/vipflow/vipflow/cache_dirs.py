"""Where vipflow keeps what it can rebuild: ``$VIPFLOW_CACHE``, else ``cache/`` under the data root
(embeddings, compiled encoders, ...; each in its own sub-folder)."""

from __future__ import annotations

import os
from pathlib import Path

from vipflow.data_root import data_path

CACHE_ENV = "VIPFLOW_CACHE"


def cache_root() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return data_path("cache")
