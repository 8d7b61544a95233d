"""docs/architecture.md is true to the tree: every ``vipflow`` module or name it mentions exists,
and its data-flow diagram is renderable (every arrow joins declared boxes, every box is placed)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "src" / "vipflow"
FILE_SUFFIXES = {"py", "json", "yaml", "toml", "csv", "png", "md"}


def _renderer():
    path = ROOT / "docs" / "img" / "architecture.py"
    spec = importlib.util.spec_from_file_location("architecture_figure", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def _source(dotted: str) -> Path | None:
    path = PACKAGE.joinpath(*dotted.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _names(text: str) -> set[str]:
    """``vipflow.a.b`` anywhere, and ``a.b`` in backticks where ``a`` is a part of vipflow."""
    names = set(re.findall(r"\bvipflow(?:\.\w+)+", text))
    for short in re.findall(r"`(\w+(?:\.\w+)+)`", text):
        if short.rsplit(".", 1)[1] in FILE_SUFFIXES:  # a file name (record.launch.py), not a module
            continue
        if not short.startswith("vipflow") and _source("vipflow." + short.split(".")[0]) is not None:
            names.add(f"vipflow.{short}")
    return names


def test_every_vipflow_name_in_the_doc_exists():
    missing = []
    for name in sorted(_names(DOC.read_text())):
        parts = name.split(".")
        # the longest prefix that is a module; what follows must be defined (or imported) there
        for cut in range(len(parts), 1, -1):
            source = _source(".".join(parts[:cut]))
            if source is not None:
                rest = parts[cut:]
                if rest and not re.search(rf"\b{rest[0]}\b", source.read_text()):
                    missing.append(name)
                break
        else:
            missing.append(name)
    assert missing == []


def test_the_data_flow_diagram_parses_and_places_every_box():
    fig = _renderer()
    boxes, edges, _bends = fig.parse(fig.mermaid_block(DOC.read_text()))
    assert len(boxes) >= 12 and len(edges) >= 15
    placed = {(b.col, b.row) for b in boxes.values()}
    assert len(placed) == len(boxes), "two boxes share a place (a missing '%% at')"
    assert {"ros", "core", "store"} == {b.kind for b in boxes.values()}
    assert (ROOT / "docs" / "img" / "architecture.png").is_file()
