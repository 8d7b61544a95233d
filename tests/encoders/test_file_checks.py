"""Issue 12, finding 9: encoder files whose values or header lie are refused with a named error.

Before the fix, inf weights, int64 weights and a header relabelling F32 as I32 loaded and gave
garbage embeddings silently, and damaged safetensors headers crashed with SafetensorError.
"""

from __future__ import annotations

import json
import struct

import pytest
import torch
from encoder_reference import save_convnet, torchvision_convnet
from safetensors.torch import load_file, save_file

from vipflow.cli.main import main
from vipflow.encoders import (
    CheckpointLayoutError,
    CheckpointValueError,
    CorruptCheckpointError,
    EncoderError,
    load_encoder,
    save_encoder,
)


@pytest.fixture
def export(tmp_path):
    enc = load_encoder("vip", arch="convnet-small", hidden_dim=8, random_init=True)
    return save_encoder(enc, tmp_path / "enc.safetensors")


def _header(path):
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _write_header(path, header, data):
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def _resave(path, change):
    tensors = load_file(str(path))
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    change(tensors)
    save_file(tensors, str(path), metadata=meta)


def _a_weight(t):
    return next(k for k in sorted(t) if k.endswith("conv") or k.endswith(".weight"))


def test_inf_weight_is_refused(export):
    _resave(export, lambda t: t[_a_weight(t)].view(-1).__setitem__(0, float("inf")))
    with pytest.raises(CheckpointValueError, match="non-finite"):
        load_encoder("vip", export)


def test_int64_weights_are_refused(export):
    _resave(export, lambda t: t.update({k: v.round().long() for k, v in t.items() if v.is_floating_point()}))
    with pytest.raises(CheckpointValueError, match="wrong type"):
        load_encoder("vip", export)


def test_header_relabelling_f32_as_i32_is_refused(export):
    header, data = _header(export)
    key = next(k for k, v in header.items() if k != "__metadata__" and v["dtype"] == "F32")
    header[key]["dtype"] = "I32"  # same byte count: parses, and would load as huge integers
    _write_header(export, header, data)
    with pytest.raises(CheckpointValueError, match=r"I32|int32"):
        load_encoder("vip", export)


def test_negative_batchnorm_variance_is_refused(export):
    def negative(t):
        t[next(k for k in t if k.endswith("running_var"))].view(-1)[0] = -1.0

    _resave(export, negative)
    with pytest.raises(CheckpointValueError, match="negative BatchNorm"):
        load_encoder("vip", export)


BAD_HEADERS = {
    "offsets beyond the data": lambda h: next(v for k, v in h.items() if k != "__metadata__").update(
        data_offsets=[0, 10**9]),
    "shape disagrees with offsets": lambda h: next(v for k, v in h.items() if k != "__metadata__").update(
        shape=[3, 3, 3, 3, 3]),
    "unknown dtype": lambda h: next(v for k, v in h.items() if k != "__metadata__").update(dtype="Q7"),
    "metadata not text": lambda h: h["__metadata__"].update(embed_dim=8),
}


@pytest.mark.parametrize("kind", sorted(BAD_HEADERS))
def test_bad_headers_are_corrupt_checkpoints(export, kind):
    header, data = _header(export)
    BAD_HEADERS[kind](header)
    _write_header(export, header, data)
    with pytest.raises(CorruptCheckpointError, match=r"enc\.safetensors"):
        load_encoder("vip", export)


def test_header_length_beyond_the_file_and_garbage_json(export):
    raw = export.read_bytes()
    export.write_bytes(struct.pack("<Q", 10**6) + raw[8:])
    with pytest.raises(EncoderError):
        load_encoder("vip", export)
    export.write_bytes(raw[:8] + b"{" + b"\xff" * 40 + raw[49:])
    with pytest.raises(CorruptCheckpointError):
        load_encoder("vip", export)


def test_export_metadata_that_lies_about_the_dimension(export):
    header, data = _header(export)
    header["__metadata__"]["embed_dim"] = "512"
    _write_header(export, header, data)
    with pytest.raises(CheckpointLayoutError, match="declares embed_dim 512"):
        load_encoder("vip", export)


def test_official_file_with_inf_weights_is_refused(tmp_path):
    convnet = torchvision_convnet("resnet18", 16)
    with torch.no_grad():
        convnet.conv1.weight[0, 0, 0, 0] = float("inf")
    path = save_convnet(tmp_path / "vip.pt", "vip", convnet)
    with pytest.raises(CheckpointValueError, match=r"vip\.pt"):
        load_encoder("vip", path)


def test_cli_commands_give_one_line(export, tmp_path, capsys):
    _resave(export, lambda t: t[_a_weight(t)].view(-1).__setitem__(0, float("nan")))
    code = main(["weights", "export", "vip", str(export), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and "enc.safetensors" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
