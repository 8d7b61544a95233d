"""On-disk cache of compiled encoders (and of `auto` precision decisions), so a second start is fast.

An entry is a folder named by a hash of its key (encoder fingerprint, tower, runtime and its
version, precision, input shape, CPU features). ``entry.json`` is written last and lists every
file with its size and SHA-256; an entry whose manifest is missing, unreadable, for another key
or whose files do not match it is reported, deleted and rebuilt. Entries are built in a temporary
folder and renamed into place, so concurrent builders (the encoder process and the main process)
never see half an entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from vipflow.cache_dirs import cache_root
from vipflow.durable import atomic_write_text

log = logging.getLogger(__name__)

MANIFEST = "entry.json"
OFF = "off"


def default_compiled_dir() -> Path:
    return cache_root() / "compiled"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class CorruptEntryError(ValueError):
    """A cache entry that cannot be used as is; the message says why."""


class CompiledCache:
    """``root=None``: the default folder; ``"off"``: build into a temporary folder every time."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.enabled = str(root) != OFF
        self.root = default_compiled_dir() if root is None else Path(root)
        self.rebuilt = 0  # corrupt entries found and rebuilt (tests and logs)

    def entry_dir(self, key: dict) -> Path:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
        label = "-".join(str(key[k]) for k in ("tower", "runtime", "precision") if k in key)
        return self.root / str(key.get("fingerprint", "any"))[:16] / f"{label}-{digest}"

    def verify(self, entry: Path, key: dict) -> None:
        try:
            manifest = json.loads((entry / MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise CorruptEntryError(f"unreadable manifest ({exc})") from None
        if manifest.get("key") != key:
            raise CorruptEntryError("its manifest is for another key")
        for name, (size, digest) in manifest.get("files", {}).items():
            path = entry / name
            if not path.is_file() or path.stat().st_size != size or _sha256(path) != digest:
                raise CorruptEntryError(f"{name} is missing or does not match its checksum")

    def discard(self, entry: Path, why: object) -> None:
        log.warning("compiled-encoder cache entry %s is corrupt (%s); rebuilding it", entry, why)
        shutil.rmtree(entry, ignore_errors=True)
        self.rebuilt += 1

    def get_or_build(self, key: dict, build: Callable[[Path], None], scratch: Path | None = None) -> Path:
        """The verified entry folder for ``key``; ``build(folder)`` writes its files when missing.

        With the cache off, entries go to ``scratch`` (a temporary folder the caller owns).
        """
        if not self.enabled:
            assert scratch is not None, "a scratch folder is needed when the cache is off"
            build(scratch)
            return scratch
        entry = self.entry_dir(key)
        if entry.exists():
            try:
                self.verify(entry, key)
                return entry
            except CorruptEntryError as why:
                self.discard(entry, why)
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
        try:
            build(tmp)
            files = {p.name: (p.stat().st_size, _sha256(p)) for p in sorted(tmp.iterdir()) if p.is_file()}
            atomic_write_text(tmp / MANIFEST, json.dumps({"key": key, "files": files}, indent=1))
            try:
                os.rename(tmp, entry)
            except OSError:  # another process finished the same entry first: use theirs
                if not entry.exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return entry
