"""Command-line interface: one `vipflow` entry point, one module per subcommand."""

from __future__ import annotations

import sys


def fail(problem: object, code: int = 2) -> int:
    """Report a user-facing error on stderr, without a traceback; returns the exit code."""
    print(f"error: {problem}", file=sys.stderr)
    return code
