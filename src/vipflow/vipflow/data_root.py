"""One place for data: the folder under which every default output goes.

The data root is ``$VIPFLOW_DATA`` (``vipflow --data-root DIR`` sets it for one command), else
``~/vipflow_data``. Commands resolve their default paths when they run, so the variable and the
option both apply. An explicit path (``--out``, ``--dataset``, ...) always wins, and the two
older variables still override their own folder (``$VIPFLOW_CACHE``, ``$VIPFLOW_WEIGHTS_DIR``).
README.md ("Where things land") shows the same table.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "VIPFLOW_DATA"
DEFAULT_ROOT = "~/vipflow_data"
ROOT_TEXT = f"${DATA_ENV}, else {DEFAULT_ROOT}"

# What lands where under the data root (README.md's table lists the same rows; a test checks it).
LAYOUT = {
    "datasets/<task>/": "recorded demos (`vipflow record`, a task config without record.dataset)",
    "runs/<task>-<method>-<time>/": "policies (`vipflow train`)",
    "runs/train_encoder/": "encoder training runs (`vipflow train-encoder`)",
    "results/<task>/<name>/seed<N>/": "evaluation rollouts and ledgers (`vipflow evaluate run`)",
    "results/table/": "the success table (`vipflow evaluate table`)",
    "rewards/": "reward curves and metrics (`vipflow rewards`)",
    "demo/": "the simulated workflow (`vipflow demo`)",
    "cache/embeddings/": "the embedding cache ($VIPFLOW_CACHE/embeddings when set)",
    "cache/weights/": "downloaded encoder weights ($VIPFLOW_WEIGHTS_DIR when set)",
}


def data_root() -> Path:
    """The data root, absolute: ``$VIPFLOW_DATA`` or ``~/vipflow_data``."""
    return Path(os.path.expanduser(os.environ.get(DATA_ENV) or DEFAULT_ROOT)).absolute()


def data_path(*parts: str) -> Path:
    """A default location under the data root, e.g. ``data_path("results", task)``."""
    return data_root().joinpath(*parts)


def under_root(kind: str) -> str:
    """How ``--help`` names a default under the data root, e.g. ``$VIPFLOW_DATA/runs/...``."""
    return f"${DATA_ENV}/{kind} (data root: {ROOT_TEXT})"
