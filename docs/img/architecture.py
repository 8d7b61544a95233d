"""Render the data-flow diagram of docs/architecture.md to docs/img/architecture.png.

The mermaid block in the markdown is the one declaration of the diagram (GitHub renders it);
this script draws the same boxes and arrows with matplotlib for places that show no mermaid,
placed by the block's ``%% at <id> <column> <row>`` comments (``%% bend <from> <to> <r>`` curves
an arrow). Run it after editing the diagram: ``python docs/img/architecture.py``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

DOC = Path(__file__).resolve().parents[1] / "architecture.md"
OUT = Path(__file__).resolve().with_suffix(".png")
NODE = re.compile(r'^\s*(\w+)(\[\(|\[)"(.+)"(?:\)\]|\])(?::::(\w+))?\s*$')
EDGE = re.compile(r"^\s*(\w+)\s*(-->|-\.->)\s*(?:\|(.+?)\|)?\s*(\w+)\s*$")
DX, DY, W, H = 4.0, 1.6, 3.0, 1.05  # grid spacing and box size, in data units
FILL = {"core": "#dbe9f6", "store": "#fdf1c7", "ros": "#ffffff"}


@dataclass
class Box:
    label: str
    kind: str  # core, store or ros
    col: float = 0.0
    row: float = 0.0


def mermaid_block(text: str) -> list[str]:
    match = re.search(r"```mermaid\n(.*?)```", text, re.S)
    if not match:
        raise SystemExit(f"{DOC}: no ```mermaid block")
    return match.group(1).splitlines()


def parse(lines: list[str]) -> tuple[dict[str, Box], list[tuple[str, str, str, bool]], dict]:
    """Boxes by id, edges (from, to, label, dashed) and arrow curvatures from the mermaid lines."""
    boxes: dict[str, Box] = {}
    edges: list[tuple[str, str, str, bool]] = []
    bends: dict[tuple[str, str], float] = {}
    for line in lines:
        words = line.split()
        if words[:2] == ["%%", "at"]:
            boxes[words[2]].col, boxes[words[2]].row = float(words[3]), float(words[4])
        elif words[:2] == ["%%", "bend"]:
            bends[(words[2], words[3])] = float(words[4])
        elif node := NODE.match(line):
            name, shape, label, cls = node.groups()
            kind = cls or ("store" if shape == "[(" else "core")
            boxes[name] = Box(html.unescape(label).replace("<br/>", "\n"), kind)
        elif edge := EDGE.match(line):
            a, arrow, label, b = edge.groups()
            edges.append((a, b, label or "", arrow == "-.->"))
    missing = {n for a, b, _, _ in edges for n in (a, b)} - set(boxes)
    if missing:
        raise SystemExit(f"{DOC}: arrows name undeclared boxes {sorted(missing)}")
    return boxes, edges, bends


def draw(boxes: dict[str, Box], edges, bends) -> plt.Figure:
    cols = max(b.col for b in boxes.values()) + 1
    rows = max(b.row for b in boxes.values()) + 1
    fig, ax = plt.subplots(figsize=(cols * DX * 0.6, rows * DY * 0.6 + 0.6))
    patches = {}
    for name, b in boxes.items():
        x, y = b.col * DX, -b.row * DY
        style = f"round,pad=0.02,rounding_size={0.35 if b.kind == 'store' else 0.08}"
        patch = FancyBboxPatch(
            (x - W / 2, y - H / 2), W, H, boxstyle=style, facecolor=FILL[b.kind], edgecolor="#34495e",
            linewidth=1.0, linestyle="--" if b.kind == "ros" else "-", zorder=2,
        )
        ax.add_patch(patch)
        patches[name] = patch
        ax.text(x, y, b.label, ha="center", va="center", fontsize=7.2, zorder=3)
    for a, b, label, dashed in edges:
        rad = bends.get((a, b), 0.0)
        pa = (boxes[a].col * DX, -boxes[a].row * DY)
        pb = (boxes[b].col * DX, -boxes[b].row * DY)
        ax.add_patch(FancyArrowPatch(
            pa, pb, patchA=patches[a], patchB=patches[b], connectionstyle=f"arc3,rad={rad}",
            arrowstyle="-|>", mutation_scale=10, linewidth=0.9, color="#566573" if dashed else "#1f3a5f",
            linestyle=(0, (3, 2)) if dashed else "-", zorder=1,
        ))
        if label:
            # arc3's control point sits rad * distance off the midpoint; the curve passes halfway to it
            mx, my = (pa[0] + pb[0]) / 2, (pa[1] + pb[1]) / 2
            dx, dy = pb[0] - pa[0], pb[1] - pa[1]
            lx, ly = mx + rad * dy / 2, my - rad * dx / 2
            ax.text(lx, ly, label, ha="center", va="center", fontsize=6.2, color="#1f3a5f", zorder=4,
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"})
    ax.set_xlim(-DX / 2, (cols - 0.5) * DX)
    ax.set_ylim(-(rows - 0.5) * DY, DY / 2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(
        "vipflow data flow: the ROS-free core (solid) and the ROS 2 nodes that wrap it (dashed)", fontsize=9
    )
    fig.tight_layout()
    return fig


def main() -> None:
    boxes, edges, bends = parse(mermaid_block(DOC.read_text()))
    unplaced = [n for n, b in boxes.items() if (b.col, b.row) == (0.0, 0.0)]
    if len(unplaced) > 1:
        raise SystemExit(f"{DOC}: no '%% at' for {unplaced[1:]}")
    draw(boxes, edges, bends).savefig(OUT, dpi=130)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
