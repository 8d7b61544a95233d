"""The person running an evaluation: resets the scene between rollouts and judges success.

The VIP paper judged success visually; so does a real-robot session here: after each rollout
the operator presses a key (s = success, f = failure), the DROID-style prompt. In a paired session
the operator sets up each trial once and puts the scene back to that start (a photo shows it)
before each further policy, without being told which policy runs: the judge stays blind to the
randomised order. A simulator judges itself and never asks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class OperatorAbort(RuntimeError):
    """The operator ended the session at a prompt (q, or end of input)."""


class Operator(Protocol):
    def prepare(self, index: int, total: int) -> None:
        """Block until the scene is reset for rollout ``index`` (0-based) of ``total``."""
        ...

    def judge(self, index: int) -> bool:
        """Ask whether rollout ``index`` succeeded."""
        ...

    def restore(self, index: int, total: int, photo: str | None) -> None:
        """Block until the scene is back at the start of trial ``index`` (``photo`` shows it), for
        the next policy of a paired session. The operator is not told which policy runs next."""
        ...


class ConsoleOperator:
    """Prompts on the terminal. ``ask`` is ``input`` by default (swap it for a GUI or a pedal)."""

    def __init__(self, ask: Callable[[str], str] = input) -> None:
        self.ask = ask

    def _read(self, prompt: str) -> str:
        try:
            return self.ask(prompt).strip().lower()
        except EOFError as exc:
            raise OperatorAbort("no operator input (end of input); session stopped") from exc
        except KeyboardInterrupt as exc:
            raise OperatorAbort("operator pressed Ctrl-C at the prompt; session stopped") from exc

    def prepare(self, index: int, total: int) -> None:
        answer = self._read(
            f"[rollout {index + 1}/{total}] Reset the scene and the arm's start pose, keep clear of the "
            "robot, then press Enter to start (q to quit): "
        )
        if answer == "q":
            raise OperatorAbort(f"operator quit before rollout {index + 1}")

    def restore(self, index: int, total: int, photo: str | None) -> None:
        where = f" as in {photo}" if photo else ""
        answer = self._read(
            f"[trial {index + 1}/{total}] Put the scene and the arm back exactly as at the start of this "
            f"trial{where}, keep clear of the robot, then press Enter (q to quit): "
        )
        if answer == "q":
            raise OperatorAbort(f"operator quit while restoring trial {index + 1}")

    def judge(self, index: int) -> bool:
        while True:
            answer = self._read(f"[rollout {index + 1}] Success? [s]uccess / [f]ailure (q to quit): ")
            if answer in ("s", "y", "success", "yes"):
                return True
            if answer in ("f", "n", "failure", "no"):
                return False
            if answer == "q":
                raise OperatorAbort(f"operator quit while judging rollout {index + 1}")

