"""Fixtures shared by every test folder."""

from __future__ import annotations

import atexit
import contextlib
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
@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    status = config.stash.get(_EXIT_STATUS, None)
    if status is None:
        return
    atexit._run_exitfuncs()
    config.get_terminal_writer().flush()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


_EXIT_STATUS = pytest.StashKey[int]()
