"""What the ament_python packages' setup.py files declare, read the way colcon reads them."""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import setuptools

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("vip_reward_node", "demo_recorder", "rwr_policy_node", "vip_bringup")


def setup_kwargs(pkg: str) -> dict:
    """The arguments setup.py passes to setup(), run from the package directory as colcon does."""
    captured: dict = {}
    real_setup, cwd = setuptools.setup, os.getcwd()
    setuptools.setup = lambda **kw: captured.update(kw)
    try:
        os.chdir(ROOT / "src" / pkg)
        runpy.run_path("setup.py", run_name="__main__")
    finally:
        setuptools.setup = real_setup
        os.chdir(cwd)
    return captured


def console_scripts(pkg: str) -> dict[str, tuple[str, str]]:
    """Executable name -> (module, function) of a package's console scripts."""
    out = {}
    for line in setup_kwargs(pkg)["entry_points"]["console_scripts"]:
        name, target = (s.strip() for s in line.split("="))
        module, func = target.split(":")
        out[name] = (module, func)
    return out
