"""Progress of long loops: a bar on a terminal, one line per 10 % in a log.

``--progress/--no-progress`` (default: on when stdout is a terminal) picks between them: a tqdm bar
redraws in place, which in a log file becomes hundreds of lines, so without it each loop prints one
line at every 10 % it completes instead (to stderr, beside where the bar would be). A workflow that
reports its own stage lines (``vipflow demo``) runs its inner loops ``inside_stage()`` so they add no
lines of their own to the log.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
_QUIET_LINES: ContextVar[bool] = ContextVar("vipflow_progress_quiet_lines", default=False)


@contextlib.contextmanager
def inside_stage() -> Iterator[None]:
    """Inner loops of a stage whose caller prints its own lines: bars stay, 10 % lines are dropped."""
    token = _QUIET_LINES.set(True)
    try:
        yield
    finally:
        _QUIET_LINES.reset(token)


class LineProgress:
    """``tqdm``'s update/close/set_postfix surface, printing ``desc: k/N (p %)`` at every 10 %."""

    def __init__(self, desc: str, total: int | None, initial: int = 0, unit: str = "it") -> None:
        self.desc, self.total, self.n, self.unit = desc, total, initial, unit
        self.quiet = _QUIET_LINES.get() or not total
        self._decile = self._deciles()
        self._t0 = time.perf_counter()

    def _deciles(self) -> int:
        return 10 * self.n // self.total if self.total else 0

    def update(self, k: int = 1) -> None:
        self.n += k
        decile = self._deciles()
        if decile > self._decile and not self.quiet:
            print(f"{self.desc}: {self.n}/{self.total} {self.unit} ({100 * self.n // self.total} %, "
                  f"{time.perf_counter() - self._t0:.0f} s)", file=sys.stderr, flush=True)
        self._decile = decile

    def set_postfix(self, *args, **kwargs) -> None:  # a bar's live numbers; the log has the result lines
        return None

    set_postfix_str = set_postfix

    def close(self) -> None:
        return None

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_bar(desc: str, total: int | None, *, enabled: bool, initial: int = 0, unit: str = "it",
                 **tqdm_kwargs) -> tqdm | LineProgress:
    """A tqdm bar (``enabled``) or its one-line-per-10 % stand-in, driven with ``update(k)``."""
    if enabled:
        return tqdm(total=total, desc=desc, initial=initial, unit=unit, **tqdm_kwargs)
    return LineProgress(desc, total, initial, unit)


def progress(items: Iterable[T], desc: str, *, enabled: bool, total: int | None = None, initial: int = 0,
             unit: str = "it") -> Iterator[T]:
    """Iterate ``items`` showing progress (see :func:`progress_bar`)."""
    if total is None:
        total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
    with progress_bar(desc, total, enabled=enabled, initial=initial, unit=unit) as bar:
        for item in items:
            yield item
            bar.update(1)
