"""VIP / LIV / LSTD encoder training: losses, frame cache, samplers, trainer, DDP.

See docs/training.md. Typical use::

    from vipflow.encoder_training import train_vip
    encoder = train_vip(list_of_uint8_videos, arch="convnet-small", image_size=64, steps=1000)
"""

from vipflow.encoder_training.api import as_sources, train_encoder, train_vip
from vipflow.encoder_training.cache import FrameCache
from vipflow.encoder_training.config import TrainConfig
from vipflow.encoder_training.errors import (
    CheckpointError,
    NonFiniteLossError,
    TrainingConfigError,
    TrainingDataError,
    TrainingError,
)
from vipflow.encoder_training.losses import (
    LIVLossConfig,
    LSTDLossConfig,
    VIPLossConfig,
    compute_loss,
    liv_loss,
    log_mean_exp,
    lstd_loss,
    vip_loss,
)
from vipflow.encoder_training.sources import VideoSource, array_sources, discover_sources, load_manifest
from vipflow.encoder_training.trainer import Trainer, TrainResult, load_trained

__all__ = [
    "CheckpointError",
    "FrameCache",
    "LIVLossConfig",
    "LSTDLossConfig",
    "NonFiniteLossError",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingConfigError",
    "TrainingDataError",
    "TrainingError",
    "VIPLossConfig",
    "VideoSource",
    "array_sources",
    "as_sources",
    "compute_loss",
    "discover_sources",
    "liv_loss",
    "load_manifest",
    "load_trained",
    "log_mean_exp",
    "lstd_loss",
    "train_encoder",
    "train_vip",
    "vip_loss",
]
