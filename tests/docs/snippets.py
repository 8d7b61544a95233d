"""The ```python blocks of the documentation, and a runner that executes them as a user would.

Run as a script (``python snippets.py PAGE...``, in an empty working directory): the blocks of each
page run in order in one namespace (a page reads top to bottom, later blocks use earlier names),
the pages in the order given (the policy pages use the dataset docs/episodes.md records). A block
that needs hardware is skipped when the line before its fence is
``<!-- snippet-skip: needs <hardware>: <why> -->``.
"""

from __future__ import annotations

import re
import sys
import time
import traceback
from pathlib import Path

FENCE = re.compile(r"^```python\s*$")
SKIP = re.compile(r"<!--\s*snippet-skip:\s*(.*?)\s*-->")


def blocks(page: Path) -> list[tuple[int, str, str | None]]:
    """(line of the fence, code, skip reason or None) of every ```python block of ``page``."""
    lines, out, i = page.read_text().splitlines(), [], 0
    while i < len(lines):
        if FENCE.match(lines[i]):
            start = i
            j = i + 1
            while not lines[j].startswith("```"):
                j += 1
            skip = SKIP.search(lines[start - 1]) if start else None
            out.append((start + 1, "\n".join(lines[start + 1 : j]) + "\n", skip.group(1) if skip else None))
            i = j
        i += 1
    return out


def run(pages: list[Path]) -> int:
    for page in pages:
        namespace: dict = {"__name__": "__main__"}
        for line, code, skip in blocks(page):
            where = f"{page.name}:{line}"
            if skip:
                print(f"{where} skipped ({skip})", flush=True)
                continue
            t = time.perf_counter()
            try:
                exec(compile(code, where, "exec"), namespace)
            except Exception:
                traceback.print_exc()
                print(f"{where} FAILED", flush=True)
                return 1
            print(f"{where} ok ({time.perf_counter() - t:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run([Path(p) for p in sys.argv[1:]]))
