"""Output paths checked before any work starts.

A command that encodes for ten minutes and then fails on ``--out`` (a file, a read-only mount, a
name too long, a dataset folder that training would later list) wastes the user's time and can
leave half-written results. Every command that writes results checks its output paths first
with these functions; each problem is one ``OutputPathError`` naming the path and the fix.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from vipflow.durable import OutputError, kind_of
from vipflow.episodes.dataset import is_episode_dir
from vipflow.episodes.layout import MANIFEST, PARTIAL_DIR

# Longest name a command adds inside an output directory (checkpoint temp dirs, csv names ...).
CHILD_NAME_RESERVE = 40


class OutputPathError(OutputError):
    """An output path is unusable (a file, under a file, not writable, too long, inside a dataset)."""


def _error(path: Path, problem: str, fix: str) -> OutputPathError:
    return OutputPathError(errno.EINVAL, f"{path}: {problem}; {fix}")


def _nearest_dir(path: Path) -> Path:
    """Nearest existing ancestor of ``path``; raises if it is not a directory (the parent is a file)."""
    for p in path.parents:
        try:
            mode = os.stat(p).st_mode  # ancestors may be symlinks to directories
        except OSError:
            continue  # absent, or a file / an over-long name higher up: found when the loop reaches it
        if not stat.S_ISDIR(mode):
            what = "a file" if stat.S_ISREG(mode) else kind_of(mode)
            raise _error(path, f"its parent {p} is {what}",
                         "choose a path whose parent folders are directories")
        return p
    return Path("/")


def _lstat_mode(path: Path) -> int | None:
    try:
        return os.lstat(path).st_mode
    except OSError:  # absent, under a file, or a name too long (reported by _check_length)
        return None


def _limit(path: Path, name: str, default: int) -> int:
    try:
        return int(os.pathconf(path, name))
    except (OSError, ValueError):
        return default


def _check_length(path: Path, anchor: Path, reserve: int) -> None:
    name_max = _limit(anchor, "PC_NAME_MAX", 255)
    path_max = _limit(anchor, "PC_PATH_MAX", 4096)
    for part in path.parts:
        if len(os.fsencode(part)) > name_max:
            raise _error(path, f"the name {part[:40]!r}... is {len(os.fsencode(part))} bytes, over the "
                         f"file system's limit of {name_max}", "choose a shorter name")
    if len(os.fsencode(str(path))) + reserve >= path_max:
        raise _error(path, f"the path is {len(os.fsencode(str(path)))} bytes; with the files written inside "
                     f"it would exceed the limit of {path_max}", "choose a shorter path")


def _check_writable(path: Path, folder: Path) -> None:
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only or not os.access(folder, os.W_OK | os.X_OK):
        why = "is on a read-only file system" if read_only else "is not writable by this user"
        raise _error(path, f"{folder} {why}", f"choose a writable location or fix the permissions "
                     f"(ls -ld {folder})")


def _is_dataset(path: Path, *, look_inside: bool) -> bool:
    """A dataset (its manifest or recording area; with ``look_inside``, also episodes at its top
    level) or an episode directory."""
    if not path.is_dir():
        return False
    if is_episode_dir(path) or (path / MANIFEST).is_file() or (path / PARTIAL_DIR).is_dir():
        return True
    if not look_inside:
        return False
    try:
        children = list(path.iterdir())[:1000]
    except OSError:
        return False
    return any(not c.name.startswith(".") and is_episode_dir(c) for c in children)


def _check_not_in_dataset(path: Path, datasets: Iterable[str | Path]) -> None:
    resolved = path.resolve()
    for d in datasets:
        d = Path(d).resolve()
        if resolved == d or d in resolved.parents:
            raise _error(path, f"it lies inside the input {d}", "write runs and results outside the data")
    for p in (resolved, *resolved.parents):
        if _is_dataset(p, look_inside=p == resolved):
            raise _error(path, f"it lies inside the episode dataset {p}", "datasets hold only episodes "
                         "(listing and training read every folder in them); choose a path outside it")


def check_output_dir(
    path: str | Path,
    *,
    option: str = "--out",
    must_be_empty: bool = False,
    datasets: Iterable[str | Path] = (),
) -> Path:
    """Raise OutputPathError unless ``path`` can be (or already is) a writable output directory
    outside any episode dataset; returns it absolute. Creates nothing."""
    path = Path(path).expanduser().absolute()
    mode = _lstat_mode(path)
    if mode is not None:
        target = os.stat(path).st_mode if stat.S_ISLNK(mode) else mode  # a symlinked folder is fine
        if not stat.S_ISDIR(target):
            what = "a file" if stat.S_ISREG(target) else kind_of(mode)
            raise _error(path, f"{option} names {what}, not a directory", f"give {option} a directory")
        if must_be_empty and any(path.iterdir()):
            raise _error(path, "the directory is not empty and results are never overwritten",
                         f"choose a new {option}")
        folder = path
    else:
        folder = _nearest_dir(path)
    _check_length(path, folder, CHILD_NAME_RESERVE)
    _check_writable(path, folder)
    _check_not_in_dataset(path, datasets)
    return path


def check_output_file(path: str | Path, *, option: str = "output") -> Path:
    """Raise OutputPathError unless ``path`` can be written as a regular file (absent, or a regular
    file to replace; never a directory, device, FIFO, socket or symlink); returns it absolute."""
    path = Path(path).expanduser().absolute()
    mode = _lstat_mode(path)
    if mode is not None and not stat.S_ISREG(mode):
        raise _error(path, f"{option} names {kind_of(mode)}", "outputs are written only as regular files "
                     "(a device, FIFO or symlink is never replaced or followed); choose a file path")
    folder = path.parent if mode is not None else _nearest_dir(path)
    _check_length(path, folder, 16)  # the temporary file beside it
    _check_writable(path, folder)
    return path


# -- one overwrite/resume rule ---------------------------------------------------------------------------
RESUME_HELP = "continue what the output folder holds (checked against its stored config)"
OVERWRITE_HELP = "delete what the output folder holds and start again"


def add_output_mode(
    parser, *, resume_value: str | None = None, resume_help: str = RESUME_HELP, resumable: bool = True
) -> None:
    """``--resume`` / ``--overwrite``, the one rule of every command that writes a folder: a non-empty
    output folder is refused unless one of them is given. ``resume_value``: a metavar when ``--resume``
    may also name the folder itself (``vipflow train --resume RUN``: the folder and its saved config).
    ``resumable=False``: a command that writes its folder in one pass gets only ``--overwrite``."""
    group = parser.add_mutually_exclusive_group()
    if resumable and resume_value:
        group.add_argument("--resume", nargs="?", const=True, default=False, metavar=resume_value,
                           help=f"{resume_help}; {resume_value} names the folder (default: --out)")
    elif resumable:
        group.add_argument("--resume", action="store_true", help=resume_help)
    group.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)


def prepare_output_dir(
    path: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    marker: str,
    what: str,
    option: str = "--out",
    datasets: Iterable[str | Path] = (),
    resumable: bool = True,
) -> bool:
    """Apply the overwrite/resume rule to output folder ``path`` (after :func:`check_output_dir`):
    absent or empty -> a new output; non-empty -> refused unless ``resume`` (continue it; the caller
    checks compatibility against its stored config) or ``overwrite`` (deleted first). Only a folder
    holding ``marker`` (the file this kind of output always writes) is ever deleted or resumed, so
    ``--overwrite`` never empties a folder that is not a vipflow ``what``. Returns True when there is
    something to resume. ``resumable=False``: the command has only ``--overwrite``."""
    import shutil

    path = check_output_dir(path, option=option, datasets=datasets)
    if not path.is_dir() or not any(path.iterdir()):
        return False
    ours = (path / marker).is_file()
    if resume:
        if not ours:
            raise _error(path, f"it holds no {marker}, which every {what} folder has, so there is nothing to "
                         "resume", f"choose the folder the {what} wrote, or a new {option}")
        return True
    if overwrite:
        if not ours:
            raise _error(path, f"it is not empty and holds no {marker} (every {what} folder has one), so "
                         "--overwrite will not delete it", f"delete it yourself or choose a new {option}")
        shutil.rmtree(path)
        return False
    resume_fix = f"--resume to continue the {what} in it, " if resumable else ""
    raise _error(path, "the folder is not empty", f"pass {resume_fix}--overwrite to replace it, or choose "
                 f"a new {option}")
