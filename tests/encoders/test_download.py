"""`weights download` against local file:// URLs and a patched opener (this machine is offline)."""

from __future__ import annotations

import hashlib
import urllib.error
from dataclasses import replace

import pytest
from encoder_reference import save_convnet, torchvision_convnet

from vipflow.encoders import (
    WEIGHTS,
    ChecksumMismatchError,
    OfflineError,
    WeightsDownloadError,
    download,
    load_encoder,
)


@pytest.fixture
def src_dir(tmp_path):
    (tmp_path / "src").mkdir()
    return tmp_path / "src"


@pytest.fixture
def r3m18_file(src_dir):
    return save_convnet(src_dir / "r3m_18.pt", "r3m", torchvision_convnet("resnet18", None))


def served(path, **kw):
    return replace(WEIGHTS["r3m-resnet18"], urls=(path.as_uri(),), **kw)


def test_download_verifies_and_is_found_by_load_encoder(r3m18_file, tmp_path):
    digest = hashlib.sha256(r3m18_file.read_bytes()).hexdigest()
    dest = download(served(r3m18_file, sha256=digest))  # default dir: $VIPFLOW_WEIGHTS_DIR
    assert dest == tmp_path / "weights" / "r3m_resnet18.pt"
    assert dest.with_name("r3m_resnet18.pt.sha256").read_text().startswith(digest)
    assert load_encoder("r3m", arch="resnet18").arch == "resnet18"  # found without a path


def test_checksum_mismatch_deletes_the_download(r3m18_file, tmp_path):
    with pytest.raises(ChecksumMismatchError, match="does not match the published 0000"):
        download(served(r3m18_file, sha256="0" * 64), tmp_path / "w")
    assert list((tmp_path / "w").iterdir()) == []


def test_offline_explains_what_to_do(tmp_path):
    def no_network(url, timeout):
        raise urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))

    with pytest.raises(OfflineError) as err:
        download("vip", tmp_path / "w", opener=no_network)
    msg = str(err.value)
    assert "Temporary failure in name resolution" in msg and "offline" in msg
    assert "vipflow weights download vip --out ./weights" in msg
    assert str(tmp_path / "w" / "vip_resnet50.pt") in msg
    assert not (tmp_path / "w" / "vip_resnet50.pt.part").exists()


def test_http_error_is_not_reported_as_offline(tmp_path):
    def gone(url, timeout):
        raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)

    with pytest.raises(WeightsDownloadError, match="HTTP 404") as err:
        download("liv", tmp_path / "w", opener=gone)
    assert not isinstance(err.value, OfflineError)


def test_file_that_does_not_load_is_deleted(src_dir, tmp_path):
    junk = src_dir / "junk.pt"
    junk.write_bytes(b"<html>rate limited</html>")
    with pytest.raises(WeightsDownloadError, match="does not load strictly"):
        download(served(junk), tmp_path / "w")
    assert list((tmp_path / "w").iterdir()) == []


def test_torchvision_prefix_is_checked(src_dir, tmp_path):
    other = src_dir / "resnet50.pth"
    other.write_bytes(b"not the torchvision file")
    entry = replace(WEIGHTS["resnet50"], urls=(other.as_uri(),))
    with pytest.raises(ChecksumMismatchError, match="published 0676ba61"):
        download(entry, tmp_path / "w")
