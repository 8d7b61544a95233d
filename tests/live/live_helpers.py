"""Helpers for tests that run a command with ``--live`` and watch it with a Foxglove client."""

from __future__ import annotations

import importlib
import socket
import threading
import time

from vipflow.live.client import FoxgloveClient


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gate_after_server_start(monkeypatch, target: str) -> threading.Event:
    """Make the command wait at ``target`` (called after its live server started) until the test
    client has subscribed, so no message is published before anyone listens."""
    subscribed = threading.Event()
    module, name = target.rsplit(".", 1)
    real = getattr(importlib.import_module(module), name)

    def gated(*args, **kwargs):
        assert subscribed.wait(60), "the test client never subscribed"
        return real(*args, **kwargs)

    monkeypatch.setattr(target, gated)
    return subscribed


def connect_when_up(url: str, timeout_s: float = 60.0) -> FoxgloveClient:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return FoxgloveClient(url)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
