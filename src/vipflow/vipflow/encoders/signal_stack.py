"""A process-lifetime alternate signal stack for threads that compile OpenVINO models.

OpenVINO's CPU plugin installs its own alternate signal stack (about 20 KB) on the thread that
compiles or imports a model, and when that model is destroyed it puts back the stack it found.
Released in creation order (model A, then B created; A freed, then B freed), B puts back A's
stack, which A already unmapped: the next signal delivered to the thread (Ctrl-C, SIGTERM, a
child's SIGCHLD) cannot be given a frame and the kernel kills the process with SIGSEGV. Python
installs its signal handlers with SA_ONSTACK, so every handled signal goes through that stack.

``keep_signal_stack()`` after every compile and import makes the thread's alternate stack one
that lives as long as the process: every model then finds ours and puts ours back when it is
released, and no signal lands on freed memory. It is large enough for the AMX tile state
(an 8 KB register file the kernel saves in every signal frame of a thread that used AMX).
"""

from __future__ import annotations

import ctypes
import sys
import threading

SIGNAL_STACK_BYTES = 256 * 1024


class _StackT(ctypes.Structure):
    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int), ("ss_size", ctypes.c_size_t)]


_libc = ctypes.CDLL(None, use_errno=True)
_local = threading.local()
_kept: list[ctypes.Array] = []  # never freed: a thread's stack must outlive every model it compiled


def current_signal_stack() -> tuple[int, int, int]:
    """(address, flags, size) of the calling thread's alternate signal stack (Linux)."""
    st = _StackT()
    if _libc.sigaltstack(None, ctypes.byref(st)) != 0:
        raise OSError(ctypes.get_errno(), "sigaltstack failed")
    return st.ss_sp or 0, st.ss_flags, st.ss_size


def keep_signal_stack() -> None:
    """Install (once per thread) and re-install this thread's process-lifetime alternate stack."""
    if not sys.platform.startswith("linux"):
        return
    buffer = getattr(_local, "buffer", None)
    if buffer is None:
        buffer = ctypes.create_string_buffer(SIGNAL_STACK_BYTES)
        _kept.append(buffer)
        _local.buffer = buffer
    address = ctypes.addressof(buffer)
    if current_signal_stack()[0] == address:
        return
    st = _StackT(address, 0, SIGNAL_STACK_BYTES)
    if _libc.sigaltstack(ctypes.byref(st), None) != 0:
        raise OSError(ctypes.get_errno(), "sigaltstack failed")
