"""SIGINT (Ctrl-C) and SIGTERM (kill, systemd, docker stop, a cluster's time limit) handled alike.

Every long command runs under :func:`interruptible`, so SIGTERM raises :class:`Interrupted` just as
Ctrl-C raises ``KeyboardInterrupt``; commands catch it, say what was kept and exit 128 + signal
(130 for SIGINT, 143 for SIGTERM), never with a traceback. Loops that can stop at a consistent point
(a training step, a control tick) use :func:`graceful`: the first signal only asks them to stop, so
they finish the step, write their checkpoint or episode, and return; a second signal raises at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def exit_code(signum: int) -> int:
    """The shell's convention for a process ended by ``signum`` (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + int(signum)


class Interrupted(KeyboardInterrupt):
    """A SIGINT or SIGTERM that ends the current operation (a ``KeyboardInterrupt``, so existing
    Ctrl-C handling applies to SIGTERM as well)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal_name(signum))
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return exit_code(self.signum)


def signum_of(exc: BaseException) -> int:
    """The signal behind an interrupt exception (a bare KeyboardInterrupt is SIGINT)."""
    return getattr(exc, "signum", signal.SIGINT)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise(signum: int, _frame: object) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def _handlers(handler: Callable[[int, object], None]) -> Iterator[None]:
    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread (no-op elsewhere)."""
    if not _in_main_thread():
        yield
        return
    with _handlers(_raise):
        yield


@dataclass
class StopRequest:
    """Set by the first signal inside :func:`graceful` (or by code that wants the same stop)."""

    signum: int | None = None
    reason: str = ""

    @property
    def requested(self) -> bool:
        return bool(self.reason)

    def request(self, reason: str, signum: int | None = None) -> None:
        if not self.requested:
            self.signum, self.reason = signum, reason

    @property
    def exit_code(self) -> int | None:
        return None if self.signum is None else exit_code(self.signum)


@contextlib.contextmanager
def graceful(on_stop: Callable[[str], None] | None = None) -> Iterator[StopRequest]:
    """The first SIGINT/SIGTERM asks for a stop (``on_stop(reason)`` is called, e.g. a loop's
    ``request_stop``); later ones raise :class:`Interrupted`. Handlers are restored on exit; outside
    the main thread no handler is installed and only explicit requests stop."""
    stop = StopRequest()
    if not _in_main_thread():
        yield stop
        return

    def handler(signum: int, frame: object) -> None:
        if stop.requested:
            _raise(signum, frame)
        reason = "SIGINT (Ctrl-C)" if signum == signal.SIGINT else signal_name(signum)
        stop.request(reason, signum)
        if on_stop is not None:
            on_stop(reason)

    with _handlers(handler):
        yield stop


def run_script(main: Callable[[], int | None], kept: str) -> None:
    """Entry point of a long script (bench/*): SIGINT and SIGTERM alike end it with one line that
    says what was kept, and exit 130/143 instead of a traceback (or, for SIGTERM, no word)."""
    import sys

    with interruptible():
        try:
            code = main()
        except KeyboardInterrupt as exc:
            signum = signum_of(exc)
            print(f"\n{signal_name(signum)}: interrupted; {kept}", file=sys.stderr)
            sys.exit(exit_code(signum))
    sys.exit(code or 0)
