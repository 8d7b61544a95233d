"""A ROS 2 workspace without a ROS install: our packages on the pip-installed Jazzy wheels.

The package index carries ROS 2 Jazzy's Python side (``ros-jazzy-rclpy[fastrtps]``, the message
packages, the rosidl generators, ament_cmake) but no ``colcon``-built workspace. This module
makes one, so the nodes run as they do after ``colcon build`` (docs/ros.md, "ROS 2 without a ROS
install"):

- ``install_packages``: ``pip install --prefix`` of each ament_python package, a real (non
  editable) install: ``share/<pkg>/package.xml``, launch and config files and the ament index
  marker land where ``ament_index_python`` looks, the console scripts in ``<prefix>/bin``;
- ``build_interfaces``: rosidl interface packages (``.msg/.srv/.action``) configured, built and
  installed with CMake against the wheels;
- ``environment``: the variables a process needs to find both (AMENT_PREFIX_PATH, PYTHONPATH,
  LD_LIBRARY_PATH); nothing is sourced.

Both steps are skipped when a stamp file says the sources have not changed, so tests and
``make test`` call them freely. Run ``python -m vipflow.ros.workspace --help``.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterable, Mapping
from pathlib import Path

STAMP = ".vipflow-source-hash"
PY_DIR = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"


class WorkspaceError(RuntimeError):
    """A build or install step failed; the message names the step and its log."""


def source_hash(package: Path) -> str:
    """sha256 over the package's files (names and contents), following symlinked folders
    (vip_bringup's launch/ and config/); caches and build outputs left out."""
    h = hashlib.sha256()
    skip = ("__pycache__", "build", ".pytest_cache")
    for root, dirs, files in sorted(os.walk(package, followlinks=True)):
        dirs[:] = sorted(d for d in dirs if d not in skip and not d.endswith(".egg-info"))
        for name in sorted(files):
            path = Path(root) / name
            h.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _stamp(prefix: Path, name: str) -> Path:
    return prefix / "share" / name / STAMP


def _up_to_date(prefix: Path, package: Path) -> bool:
    stamp = _stamp(prefix, package.name)
    return stamp.is_file() and stamp.read_text() == source_hash(package)


def _run(cmd: list[str], log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        rc = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    if rc != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-15:])
        raise WorkspaceError(f"{' '.join(cmd[:4])} ... failed (exit {rc}); log {log}:\n{tail}")


def install_packages(packages: Iterable[Path], prefix: Path) -> list[str]:
    """pip-install each ament_python package into ``prefix``; returns the names (re)installed."""
    done = []
    for package in packages:
        package = Path(package).resolve()
        if _up_to_date(prefix, package):
            continue
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--force-reinstall",
                "--prefix",
                str(prefix),
                str(package),
            ],
            prefix / "log" / f"{package.name}.pip.log",
        )
        shutil.rmtree(package / "build", ignore_errors=True)  # setuptools' in-tree build directory
        for info in package.glob("*.egg-info"):
            shutil.rmtree(info, ignore_errors=True)
        _stamp(prefix, package.name).write_text(source_hash(package))
        done.append(package.name)
    return done


def fix_wheel_cmake_exports(ros_prefix: Path = Path(sys.prefix)) -> int:
    """Point the message wheels' CMake exports at this machine's Python and NumPy headers.

    The wheels' ``*__rosidl_generator_pyExport.cmake`` files name the include directories of the
    machine that built them (``/opt/python/cp311-cp311/...``); CMake refuses an imported target
    with a missing include directory, so no interface package would configure. Idempotent;
    returns the number of files changed.
    """
    import numpy

    python_include = sysconfig.get_paths()["include"]
    changed = 0
    for name in glob.glob(str(ros_prefix / "share" / "*" / "cmake" / "*__rosidl_generator_pyExport.cmake")):
        path = Path(name)
        text = path.read_text()
        new = re.sub(r"/opt/python/cp\d+-cp\d+/include/python3\.\d+", python_include, text)
        new = re.sub(
            r"/opt/python/cp\d+-cp\d+/lib/python3\.\d+/site-packages/numpy/_?core/include",
            numpy.get_include(),
            new,
        )
        if new != text:
            path.write_text(new)
            changed += 1
    return changed


def build_interfaces(packages: Iterable[Path], prefix: Path, *, jobs: int = 2) -> list[str]:
    """CMake-build rosidl interface packages into ``prefix`` against the wheels in ``sys.prefix``.

    Needs cmake >= 3.8, a C/C++ compiler and the Python headers. Returns the names (re)built.
    """
    packages = [Path(p).resolve() for p in packages]
    todo = [p for p in packages if not _up_to_date(prefix, p)]
    if not todo:
        return []
    if shutil.which("cmake") is None:
        raise WorkspaceError("cmake is not installed: apt-get install cmake g++ (interface packages need it)")
    fix_wheel_cmake_exports()
    ros = str(Path(sys.prefix))
    env = dict(os.environ)
    # the wheels' own prefix, and earlier interface packages (one may depend on another)
    env["AMENT_PREFIX_PATH"] = os.pathsep.join([str(prefix), ros])
    env["CMAKE_PREFIX_PATH"] = os.pathsep.join([str(prefix), ros])
    for package in todo:
        build = prefix / "build" / package.name
        shutil.rmtree(build, ignore_errors=True)
        log = prefix / "log" / package.name
        _run(
            [
                "cmake",
                "-S",
                str(package),
                "-B",
                str(build),
                f"-DCMAKE_INSTALL_PREFIX={prefix}",
                f"-DPython3_EXECUTABLE={sys.executable}",
                "-DBUILD_TESTING=OFF",
                "-DCMAKE_BUILD_TYPE=Release",
            ],
            log.with_suffix(".configure.log"),
            env,
        )
        _run(["cmake", "--build", str(build), "-j", str(jobs)], log.with_suffix(".build.log"), env)
        _run(["cmake", "--install", str(build)], log.with_suffix(".install.log"), env)
        shutil.rmtree(build, ignore_errors=True)
        _stamp(prefix, package.name).write_text(source_hash(package))
    return [p.name for p in todo]


def environment(prefixes: Iterable[Path], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with ``prefixes`` in front of the ROS paths.

    The wheels' own prefix (``sys.prefix``) stays on AMENT_PREFIX_PATH after them, so messages
    and rclpy resolve as in a sourced workspace overlaying /opt/ros/jazzy.
    """
    env = dict(os.environ if base is None else base)
    prefixes = [Path(p).resolve() for p in prefixes]

    def front(var: str, entries: list[str]) -> None:
        old = [e for e in env.get(var, "").split(os.pathsep) if e and e not in entries]
        env[var] = os.pathsep.join(entries + old)

    front("AMENT_PREFIX_PATH", [*(str(p) for p in prefixes), str(Path(sys.prefix))])
    front("PYTHONPATH", [str(p / PY_DIR) for p in prefixes])
    front("LD_LIBRARY_PATH", [str(p / "lib") for p in prefixes])
    front("PATH", [str(p / "bin") for p in prefixes])
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vipflow.ros.workspace",
        description="Install ament_python packages and build rosidl interface packages against the "
        "pip-installed ROS 2 wheels; print the environment to use them.",
    )
    parser.add_argument("--prefix", type=Path, required=True, help="install prefix (created if missing)")
    parser.add_argument("--packages", type=Path, nargs="*", default=[], help="ament_python package dirs")
    parser.add_argument(
        "--interfaces", type=Path, nargs="*", default=[], help="rosidl interface package dirs"
    )
    parser.add_argument("--print-env", action="store_true", help="print `export` lines for a shell")
    args = parser.parse_args(argv)
    prefix = args.prefix.resolve()
    try:
        built = build_interfaces(args.interfaces, prefix)
        installed = install_packages(args.packages, prefix)
    except WorkspaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"{prefix}: built {built or 'nothing new'}, installed {installed or 'nothing new'}", file=sys.stderr
    )
    if args.print_env:
        env = environment([prefix], base={})
        for var in ("AMENT_PREFIX_PATH", "PYTHONPATH", "LD_LIBRARY_PATH", "PATH"):
            print(f"export {var}={env[var]}:${var}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
