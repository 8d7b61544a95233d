"""Real-time priority for the control-loop thread.

On a loaded machine the command thread is late because the OS ran something else, not because
its own work is slow. ``SCHED_FIFO`` for the loop thread (Linux; root or CAP_SYS_NICE / an
rtprio ulimit, as libfranka itself needs) removes that; the kernel's RT throttling still keeps
the rest of the system alive. Best effort: without permission the loop runs at normal priority
and says so. The perception thread is deliberately *not* niced: it shares the GIL with the loop,
and a niced thread descheduled while holding the GIL makes the real-time thread wait for it
(priority inversion; measured: 60 ms stalls under load with nice 10, none without).
"""

from __future__ import annotations

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

