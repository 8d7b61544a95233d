"""Named errors for encoder loading: each message says what is wrong and how to fix it."""

from __future__ import annotations


class EncoderError(Exception):
    """Base class for every encoder-loading problem."""


class UnknownEncoderError(EncoderError, ValueError):
    """The family or architecture name is not in the registry."""


class WeightsNotFoundError(EncoderError, FileNotFoundError):
    """No weights file was given and none was found in the weights directory."""


class CorruptCheckpointError(EncoderError):
    """The file exists but cannot be parsed as a checkpoint (truncated, not torch/safetensors, pickle)."""


class CheckpointLayoutError(EncoderError):
    """The checkpoint's keys do not match the expected layout (missing / unexpected keys)."""


class CheckpointShapeError(EncoderError):
    """Keys match but tensor shapes differ (wrong arch or head size)."""


class CheckpointValueError(EncoderError):
    """Keys and shapes match but a tensor has the wrong dtype (e.g. a header relabelling F32 as I32,
    int64 weights) or holds NaN/inf: it would give garbage embeddings silently."""


class TextNotSupportedError(EncoderError, TypeError):
    """Text embedding was requested from an image-only encoder."""


class WeightsDownloadError(EncoderError):
    """Base class for `vipflow weights download` failures."""


class OfflineError(WeightsDownloadError):
    """The weights host could not be reached (no internet)."""


class ChecksumMismatchError(WeightsDownloadError):
    """The downloaded file's SHA-256 differs from the expected one; the file was deleted."""
