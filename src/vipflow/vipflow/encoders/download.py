"""`vipflow weights download`: fetch the official release files, verify them, put them where
`load_encoder(name)` looks.

Verification: where a digest is published we check it (torchvision publishes the first 8 hex
digits of the SHA-256 in the file name). VIP, R3M and LIV publish no digest, so for those the
check is a successful strict load (every key and shape as the official layout); the SHA-256 we
computed is printed and written next to the file so you can pin it.
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from vipflow.encoders.encoder import load_encoder
from vipflow.encoders.errors import (
    ChecksumMismatchError,
    EncoderError,
    OfflineError,
    WeightsDownloadError,
)
from vipflow.encoders.official import WeightsFile, default_weights_dir, get_weights_file

Opener = Callable[..., object]


def _fetch(url: str, part: Path, opener: Opener) -> str:
    """Stream ``url`` into ``part``; returns the SHA-256 hex digest."""
    digest = hashlib.sha256()
    with opener(url, timeout=30) as resp, open(part, "wb") as out:
        total = int(resp.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=part.name.removesuffix(".part")) as bar:
            while chunk := resp.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
                bar.update(len(chunk))
    return digest.hexdigest()


def _offline_message(w: WeightsFile, dest_dir: Path, errors: list[str]) -> str:
    return (
        f"could not reach the host for {w.key!r}:\n  " + "\n  ".join(errors) + "\n"
        "This machine looks offline (or a proxy/firewall blocks it). What to do:\n"
        f"  1. on a machine with internet: vipflow weights download {w.key} --out ./weights\n"
        f"     (or fetch {w.urls[0]} with any browser)\n"
        f"  2. copy the file here as {dest_dir / w.filename}\n"
        f"     (or anywhere, and pass --encoder-weights PATH / load_encoder({w.family!r}, PATH))"
    )


def download(
    key: str | WeightsFile,
    dest_dir: Path | None = None,
    *,
    force: bool = False,
    opener: Opener = urllib.request.urlopen,
) -> Path:
    """Download, verify (digest where published, then a strict load) and move into place."""
    w = key if isinstance(key, WeightsFile) else get_weights_file(key)
    dest_dir = Path(dest_dir) if dest_dir is not None else default_weights_dir()
    dest = dest_dir / w.filename
    if dest.is_file() and not force:
        return dest
    dest_dir.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    errors: list[str] = []
    digest = None
    for url in w.urls:
        try:
            digest = _fetch(url, part, opener)
            break
        except urllib.error.HTTPError as exc:
            part.unlink(missing_ok=True)
            raise WeightsDownloadError(
                f"{url} answered HTTP {exc.code} ({exc.reason}): the file has moved or is gone. "
                "See docs/encoders.md for the alternative sources (Google Drive, Hugging Face)."
            ) from exc
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            part.unlink(missing_ok=True)
            errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
    if digest is None:
        raise OfflineError(_offline_message(w, dest_dir, errors))
    expected = w.sha256 or w.sha256_prefix
    if expected and not digest.startswith(expected):
        part.unlink(missing_ok=True)
        raise ChecksumMismatchError(
            f"{w.key}: SHA-256 {digest} does not match the published {expected}; the download was deleted. "
            "Retry; if it persists the file on the server changed - do not use it."
        )
    try:
        load_encoder(w.family, part, arch=w.arch)
    except EncoderError as exc:
        part.unlink(missing_ok=True)
        raise WeightsDownloadError(
            f"{w.key}: the downloaded file does not load strictly, deleted it:\n{exc}"
        ) from exc
    shutil.move(part, dest)
    dest.with_name(dest.name + ".sha256").write_text(f"{digest}  {dest.name}\n")
    return dest
