"""Each bad checkpoint gives its named error, with a message that says what to do."""

from __future__ import annotations

import pytest
import torch
from encoder_reference import save_convnet, save_official, torchvision_convnet
from safetensors.torch import save_file

from vipflow.encoders import (
    CheckpointLayoutError,
    CheckpointShapeError,
    CorruptCheckpointError,
    TextNotSupportedError,
    UnknownEncoderError,
    WeightsNotFoundError,
    load_encoder,
    save_encoder,
)


@pytest.fixture
def vip18(tmp_path):
    convnet = torchvision_convnet("resnet18", 32)
    return save_convnet(tmp_path / "vip.pt", "vip", convnet)


def test_truncated_file_is_corrupt(tmp_path, vip18):
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(vip18.read_bytes()[: vip18.stat().st_size // 2])
    with pytest.raises(CorruptCheckpointError, match="truncated or not a PyTorch checkpoint"):
        load_encoder("vip", bad)


def test_pickled_object_is_refused(tmp_path):
    path = tmp_path / "pickle.pt"
    torch.save({"vip": {"module.convnet.x": torch.zeros(1)}, "cfg": object()}, path)
    with pytest.raises(CorruptCheckpointError, match="refused to unpickle"):
        load_encoder("vip", path)


def test_wrong_family_layout_names_the_right_one(vip18):
    with pytest.raises(CheckpointLayoutError, match=r"no top-level key 'r3m'.*looks like a 'vip' checkpoint"):
        load_encoder("r3m", vip18)


def test_missing_and_unexpected_keys_are_listed(tmp_path):
    state = {f"convnet.{k}": v for k, v in torchvision_convnet("resnet18", 32).state_dict().items()}
    del state["convnet.layer2.0.conv1.weight"]
    state["convnet.extra.weight"] = torch.zeros(3)
    path = save_official(tmp_path / "vip.pt", "vip", state)
    with pytest.raises(CheckpointLayoutError) as err:
        load_encoder("vip", path, arch="resnet18")
    msg = str(err.value)
    assert "missing keys (1): ['convnet.layer2.0.conv1.weight']" in msg
    assert "unexpected keys (1): ['convnet.extra.weight']" in msg
    assert "{'vip': {'module.convnet.conv1.weight'" in msg  # the expected layout


def test_missing_dataparallel_prefix(tmp_path):
    state = torchvision_convnet("resnet18", 32).state_dict()
    path = save_official(tmp_path / "vip.pt", "vip", state, prefix="")
    with pytest.raises(CheckpointLayoutError, match=r"lack the prefix 'module\.'"):
        load_encoder("vip", path)


def test_wrong_arch_requested(vip18):
    with pytest.raises(CheckpointLayoutError, match="missing keys"):
        load_encoder("vip", vip18, arch="resnet50")


def test_shape_mismatch(vip18):
    expected = r"convnet.fc.weight: checkpoint \(32, 512\) vs model \(1024, 512\)"
    with pytest.raises(CheckpointShapeError, match=expected):
        load_encoder("vip", vip18, hidden_dim=1024)


def test_export_of_other_family_and_plain_safetensors(tmp_path):
    enc = load_encoder("r3m", arch="convnet-small", random_init=True)
    path = save_encoder(enc, tmp_path / "r3m.safetensors")
    with pytest.raises(CheckpointLayoutError, match=r"is a 'r3m' export; load it with load_encoder\('r3m'"):
        load_encoder("vip", path)
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(CheckpointLayoutError, match="without vipflow metadata"):
        load_encoder("vip", plain)


def test_missing_file_and_no_default_weights(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        load_encoder("vip", tmp_path / "nope.pt")
    with pytest.raises(WeightsNotFoundError, match="vipflow weights download vip") as err:
        load_encoder("vip")
    assert "random_init=True" in str(err.value)


def test_unknown_names_and_text_on_image_encoder():
    with pytest.raises(UnknownEncoderError, match="choose one of vip, r3m, liv, resnet50"):
        load_encoder("clip")
    with pytest.raises(UnknownEncoderError, match="no arch 'vit'"):
        load_encoder("vip", arch="vit", random_init=True)
    enc = load_encoder("vip", arch="convnet-small", random_init=True)
    with pytest.raises(TextNotSupportedError):
        enc.embed_text(["open the drawer"])


def test_random_init_warns_and_excludes_weights(tmp_path):
    with pytest.warns(UserWarning, match="random weights"):
        load_encoder("vip", arch="convnet-small", random_init=True)
    with pytest.raises(ValueError, match="either weights or random_init"):
        load_encoder("vip", tmp_path / "w.pt", random_init=True)
