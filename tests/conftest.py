"""Fixtures shared by every test folder."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import subprocess
import sys

import pytest


@pytest.fixture(autouse=True, scope="session")
def _data_root(tmp_path_factory):
    """Default outputs (runs, results, caches: vipflow.data_root) land in a folder of this test
    session, never in the user's ~/vipflow_data; subprocesses inherit it."""
    saved = os.environ.get("VIPFLOW_DATA")
    os.environ["VIPFLOW_DATA"] = str(tmp_path_factory.mktemp("vipflow_data"))
    yield
    if saved is None:
        os.environ.pop("VIPFLOW_DATA", None)
    else:
        os.environ["VIPFLOW_DATA"] = saved


@pytest.fixture
def mount_tmpfs(tmp_path):
    """``mount_tmpfs(size, options="")`` -> a real tmpfs of ``size`` (e.g. "1m") mounted in tmp,
    for tests of full or read-only disks; skips (saying why) unless the tests run as root."""
    mounted = []

    def mount(size: str, options: str = ""):
        d = tmp_path / f"tmpfs{len(mounted)}"
        d.mkdir()
        if os.geteuid() != 0:
            pytest.skip(f"mounting a real {size} tmpfs needs root")
        opts = ",".join(filter(None, [options, f"size={size}"]))
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(d)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"root, but mounting a tmpfs failed: {done.stderr.decode().strip()}")
        mounted.append(d)
        return d

    yield mount
    for d in mounted:
        subprocess.run(["umount", str(d)], check=False)


# The suite runs mujoco's EGL renderer (Mesa llvmpipe), OpenVINO, ONNX Runtime, torch and rclpy in one
# process, which no vipflow command does. After every test had reported, that process crashed at exit
# with SIGSEGV in libGLdispatch's destructor (core dump: exit -> _dl_fini -> libGLdispatch, llvmpipe
# threads still alive), turning a finished run into "Segmentation fault". The commands themselves exit
# cleanly (tests/e2e and tests/ros check their exit status). So the test process ends with pytest's own
# status after Python's atexit hooks (GL contexts freed, files flushed), without native destructors.
def pytest_sessionstart(session):
    session.config.stash[_SESSION] = session


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    session = config.stash.get(_SESSION, None)
    if session is None:  # no session ran (usage error, --help): the normal exit
        return
    status = int(session.exitstatus)  # final: after the terminal reporter's own adjustments
    atexit._run_exitfuncs()
    if config.pluginmanager.get_plugin("terminalreporter") is not None:
        config.get_terminal_writer().flush()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            stream.flush()
    ctypes.CDLL(None).fflush(None)  # C-level stdio of the native libraries
    os._exit(status)


_SESSION = pytest.StashKey[pytest.Session]()
