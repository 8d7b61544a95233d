"""Encoder registry: VIP, R3M, LIV and an ImageNet ResNet-50, from official files or our export.

    enc = load_encoder("vip", "vip_resnet50.pt")        # official {'vip': {'module.convnet.*'}}
    emb = enc.embed_images(frames)                        # (N,H,W,3) uint8 -> (N,1024) float32
    save_encoder(enc, "vip.safetensors")                  # our export (safetensors + metadata)
"""

from vipflow.encoders.download import download
from vipflow.encoders.encoder import Encoder, default_weights_dir, load_encoder, save_encoder
from vipflow.encoders.errors import (
    CheckpointLayoutError,
    CheckpointShapeError,
    CheckpointValueError,
    ChecksumMismatchError,
    CorruptCheckpointError,
    EncoderError,
    OfflineError,
    TextNotSupportedError,
    UnknownEncoderError,
    WeightsDownloadError,
    WeightsNotFoundError,
)
from vipflow.encoders.families import FAMILIES, Family
from vipflow.encoders.official import WEIGHTS, WeightsFile, get_weights_file
from vipflow.encoders.preprocess import ImageTransform, PreprocessConfig

__all__ = [
    "FAMILIES",
    "WEIGHTS",
    "CheckpointLayoutError",
    "CheckpointShapeError",
    "CheckpointValueError",
    "ChecksumMismatchError",
    "CorruptCheckpointError",
    "Encoder",
    "EncoderError",
    "Family",
    "ImageTransform",
    "OfflineError",
    "PreprocessConfig",
    "TextNotSupportedError",
    "UnknownEncoderError",
    "WeightsDownloadError",
    "WeightsFile",
    "WeightsNotFoundError",
    "default_weights_dir",
    "download",
    "get_weights_file",
    "load_encoder",
    "save_encoder",
]
