"""Real-time priority is best effort and always undone."""

from __future__ import annotations

import os
import warnings

import pytest

from vipflow.runtime.priority import raise_to_realtime

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setscheduler"), reason="Linux scheduling API")


def test_realtime_priority_is_granted_and_restored_or_refused_with_a_warning():
    before = os.sched_getscheduler(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restore = raise_to_realtime(10)
    if restore is None:  # unprivileged: a warning says how to grant it
        assert any("ulimit -r" in str(w.message) for w in caught)
    else:
        assert os.sched_getscheduler(0) == os.SCHED_FIFO
        restore()
    assert os.sched_getscheduler(0) == before
