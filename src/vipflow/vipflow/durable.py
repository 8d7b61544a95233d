"""Durable writes: a crash or power cut never leaves half a file or a lost rename, a full disk is
a named error that leaves no temporary file behind, and a target that is not a regular file (a
device such as /dev/null, a FIFO, a socket, a symlink) is never replaced or followed.

Episodes, manifests, policy and training checkpoints, encoder exports and evaluation ledgers are
all written this way.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import stat
import tempfile
from pathlib import Path


class OutputError(OSError):
    """An output cannot be written where it was asked to go; the message names the path and the fix.

    Raised as ``OutputError(errno, message)``; ``str()`` is the message alone (one line for the CLI).
    """

    def __str__(self) -> str:
        return self.strerror if self.strerror and self.errno is not None else super().__str__()


class UnsafeOutputError(OutputError):
    """The target exists and is not a regular file (device, FIFO, socket, symlink or directory)."""


class DiskFullError(OutputError):
    """The disk (or quota) filled up while writing; nothing half-written was left behind."""


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_UMASK = os.umask(0o022)  # read once (setting it is the only way), restored at once
os.umask(_UMASK)


def free_bytes(path: Path) -> int:
    """Free space on the disk holding ``path`` (or its nearest existing ancestor)."""
    for p in (Path(path), *Path(path).parents):
        try:
            return shutil.disk_usage(p).free
        except OSError:
            continue
    return 0


def disk_full_error(path: Path, doing: str, fix: str = "") -> DiskFullError:
    """The named error for ENOSPC/EDQUOT while ``doing`` at ``path``."""
    free = free_bytes(path)
    return DiskFullError(
        errno.ENOSPC,
        f"disk full while {doing} {path} ({free / 1e6:.1f} MB free); "
        + (fix or "free space or choose an output on another disk, then run the command again"),
    )


def kind_of(mode: int) -> str:
    """A person's word for a non-regular file type."""
    for test, word in (
        (stat.S_ISLNK, "a symlink"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return word
    return "not a regular file"


def check_replaceable(path: Path) -> None:
    """Raise UnsafeOutputError unless ``path`` is absent or a regular file (never follows symlinks)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise UnsafeOutputError(
            errno.EEXIST,
            f"{path} is {kind_of(mode)}; outputs only replace regular files (a device, FIFO or symlink "
            "is never replaced or followed). Choose another output path",
        )


def fsync_dir(path: Path) -> None:
    """Make a rename or file creation inside ``path`` survive a power cut."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes | bytearray | memoryview) -> None:
    """Write via a fresh temporary file (O_EXCL, same directory) and rename, so readers never see
    half a file. ENOSPC becomes DiskFullError with the temporary file removed."""
    path = Path(path)
    check_replaceable(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp's 0600 would hide datasets from the rest of a lab
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        check_replaceable(path)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS and not isinstance(exc, OutputError):
            raise disk_full_error(path, "writing") from exc
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def save_png(fig, path: str | Path, dpi: int = 100) -> Path:
    """Write a matplotlib figure as PNG to exactly ``path`` (matplotlib would append ``.png`` to a
    path without a suffix), atomically and never over a device, FIFO or symlink."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)
