"""Shared by every named error: a cause folded into one line.

Named errors embed their cause (a YAML parser's caret diagram, a state-dict mismatch listing);
the CLI prints one ``error:`` line, so the cause is folded onto it.
"""

from __future__ import annotations


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``exc`` as one line of at most ``limit`` characters (its class name when it has no text)."""
    text = " ".join(str(exc).split())
    return (text[: limit - 3] + "..." if len(text) > limit else text) or type(exc).__name__
