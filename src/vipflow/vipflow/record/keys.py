"""Single-key input for recording sessions: a real terminal, a script, or a queue.

The terminal reader puts the tty in cbreak mode (keys arrive without Enter, Ctrl-C still
works) and reads with ``select``, so it works in any interactive terminal, including over SSH
and on machines without X or Wayland. Tests inject ``ScriptedKeys``; a ROS node pushes keys
from a service or topic into ``QueueKeys``.
"""

from __future__ import annotations

import os
import queue
import select
import sys
import time
from typing import Protocol, TextIO

ESCAPES = {"\x1b[A": "up", "\x1b[B": "down", "\x1b[C": "right", "\x1b[D": "left", "\x1b": "esc"}
NAMED = {" ": "space", "\r": "enter", "\n": "enter", "\x7f": "backspace", "\x08": "backspace"}


class KeySource(Protocol):
    def get(self, timeout_s: float) -> str | None:
        """The next key name ("s", "space", "enter", "esc", "left", ...) or None after timeout."""
        ...


def key_name(chars: str) -> str:
    if chars in ESCAPES:
        return ESCAPES[chars]
    if chars.startswith("\x1b"):
        return "esc"
    return NAMED.get(chars, chars.lower())


class TerminalKeys:
    """Keys from the controlling terminal; use as a context manager (restores the tty)."""

    def __init__(self, stream: TextIO | int | None = None) -> None:
        self.fd = stream if isinstance(stream, int) else (stream or sys.stdin).fileno()
        self._saved = None

    def __enter__(self) -> TerminalKeys:
        import termios
        import tty

        if not os.isatty(self.fd):
            raise OSError(
                "keyboard control needs an interactive terminal (stdin is not a tty); run the recorder "
                "in a terminal or over `ssh -t`, or drive it from the ROS node's key topic"
            )
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        return self

    def __exit__(self, *exc: object) -> None:
        import termios

        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def get(self, timeout_s: float) -> str | None:
        ready, _, _ = select.select([self.fd], [], [], max(timeout_s, 0.0))
        if not ready:
            return None
        data = os.read(self.fd, 8).decode("utf-8", errors="replace")
        return key_name(data) if data else None


class QueueKeys:
    """Keys pushed from another thread (a ROS service callback, a GUI button)."""

    def __init__(self) -> None:
        self._q: queue.Queue[str] = queue.Queue()

    def push(self, key: str) -> None:
        self._q.put(key)

    def get(self, timeout_s: float) -> str | None:
        try:
            return self._q.get(timeout=max(timeout_s, 0.0))
        except queue.Empty:
            return None


class ScriptedKeys:
    """A fixed sequence of (delay seconds, key): each key is given ``delay`` after the previous
    one was taken, so a script reads like an operator's actions."""

    def __init__(self, script: list[tuple[float, str]]) -> None:
        self.script = list(script)
        self._due: float | None = None

    def get(self, timeout_s: float) -> str | None:
        if not self.script:
            time.sleep(timeout_s)
            return None
        now = time.monotonic()
        if self._due is None:
            self._due = now + self.script[0][0]
        if now + timeout_s < self._due:
            time.sleep(timeout_s)
            return None
        time.sleep(max(0.0, self._due - now))
        key = self.script.pop(0)[1]
        self._due = None
        return key
