"""Thread scheduling for the control loop: real-time priority up, perception niceness down.

On a loaded machine the command thread is late because the OS ran something else, not because
its own work is slow. ``SCHED_FIFO`` for the loop thread (Linux; root or CAP_SYS_NICE / an
rtprio ulimit, as libfranka itself needs) removes that; the kernel's RT throttling still keeps
the rest of the system alive. The perception thread is made nicer so the encoder yields first.
Both are best effort: without permission the loop runs at normal priority and says so.
"""

from __future__ import annotations

import contextlib
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


def lower_priority(niceness: int = 10) -> None:
    """Raise the calling thread's nice value (always permitted); no-op where unsupported."""
    if hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, min(19, os.getpriority(os.PRIO_PROCESS, 0) + niceness))
