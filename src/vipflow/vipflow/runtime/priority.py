"""Real-time priority for the control-loop thread, and a heap the garbage collector leaves alone.

On a loaded machine the command thread is late because the OS ran something else, not because
its own work is slow. ``SCHED_FIFO`` for the loop thread (Linux; root or CAP_SYS_NICE / an
rtprio ulimit, as libfranka itself needs) removes that; the kernel's RT throttling still keeps
the rest of the system alive. Best effort: without permission the loop runs at normal priority
and says so. The perception thread is deliberately *not* niced: it shares the GIL with the loop,
and a niced thread descheduled while holding the GIL makes the real-time thread wait for it
(priority inversion; measured: 60 ms stalls under load with nice 10, none without).

Python's cyclic garbage collector stops every thread too: a full collection walks every tracked
object while holding the GIL. With torch, mujoco and rclpy loaded that took 150-300 ms in the
evaluate node and in kitchen_sim (gen-2 pauses measured with ``gc.callbacks``), about eight
ticks at 25 Hz, and struck the first rollout. ``freeze_heap`` ends start-up: after it, a
collection scans only what was allocated since.
"""

from __future__ import annotations

import gc
import os
import warnings
from collections.abc import Callable


def raise_to_realtime(priority: int) -> Callable[[], None] | None:
    """Put the calling thread on SCHED_FIFO ``priority``; return a function that undoes it,
    or None (with a warning) when the OS refuses."""
    if not hasattr(os, "sched_setscheduler"):
        warnings.warn("real-time priority is not available on this OS; normal priority", stacklevel=2)
        return None
    try:
        old_policy, old_param = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError) as exc:
        warnings.warn(
            f"could not give the control thread real-time priority {priority} ({exc}); running at normal "
            "priority. Grant it with `ulimit -r 99` / CAP_SYS_NICE (as for libfranka) or pass no priority",
            stacklevel=2,
        )
        return None

    def restore() -> None:
        os.sched_setscheduler(0, old_policy, old_param)

    return restore


def freeze_heap(*, collect: bool = True, unless_frozen: bool = False) -> None:
    """Exempt every object alive now from the cyclic collector (``gc.freeze``), after one full
    collection unless ``collect`` is False (the collection is the pause; the freeze is instant).

    Call when start-up is done (models loaded, node built). Frozen garbage is never freed, so a
    run or a session calls it with ``unless_frozen``: only the process's first one freezes, and
    later runs' objects (episode writers, results) stay collectable.
    """
    if unless_frozen and gc.get_freeze_count():
        return
    if collect:
        gc.collect()
    gc.freeze()
