"""Signals after OpenVINO models were released in creation order (vipflow.encoders.signal_stack).

OpenVINO's CPU plugin swaps the compiling thread's alternate signal stack and puts back the one it
found when a model is destroyed; released A-then-B, B put back A's freed stack and the next handled
signal (Ctrl-C, SIGTERM, SIGCHLD) killed the process with SIGSEGV. Each case runs in a child
process, which is what such a crash takes down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from vipflow.encoders.signal_stack import SIGNAL_STACK_BYTES, current_signal_stack, keep_signal_stack

pytest.importorskip("openvino")

CHILD = textwrap.dedent(
    """
    import gc, os, signal, sys, time
    import numpy as np
    from vipflow.encoders import load_encoder

    frames = np.zeros((1, 64, 64, 3), np.uint8)

    def two_models_released_in_creation_order(cache):
        models = [load_encoder("vip", arch="convnet-small", random_init=True, compiled_cache=cache,
                               runtime="openvino", precision="fp32") for _ in range(2)]
        for model in models:
            model.embed_images(frames)  # compiles (or imports) its own OpenVINO model
        a, b = models
        del models, model
        del a; gc.collect()
        del b; gc.collect()

    two_models_released_in_creation_order(sys.argv[1])  # on the main thread, where signals arrive
    handled = []
    signal.signal(signal.SIGUSR1, lambda *_: handled.append("SIGUSR1"))
    os.kill(os.getpid(), signal.SIGUSR1)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1.0)
    except KeyboardInterrupt:
        handled.append("SIGINT")
    print("handled", *handled, flush=True)
    """
)


def test_signals_after_models_released_in_creation_order(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "compiled")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONFAULTHANDLER": ""},
    )
    code = done.returncode
    died = signal.Signals(-code).name if code < 0 else code
    assert code == 0, f"child died with {died}:\n{done.stderr[-2000:]}"
    assert "handled SIGUSR1 SIGINT" in done.stdout


def test_the_kept_stack_is_installed_once_per_thread_and_survives():
    keep_signal_stack()
    first = current_signal_stack()
    assert first[1] == 0 and first[2] == SIGNAL_STACK_BYTES  # enabled, large enough for AMX state
    keep_signal_stack()
    assert current_signal_stack() == first
