"""Named errors for encoder training: each message says what is wrong and how to fix it."""

from __future__ import annotations

from vipflow import runs


class TrainingError(RuntimeError):
    """Base class for every training failure the user can act on."""


class TrainingDataError(TrainingError):
    """A training source is unreadable, too short, mislabelled or inconsistent."""


class TrainingConfigError(TrainingError, ValueError):
    """A configuration value is out of range or inconsistent with the data or the model."""


class CheckpointError(TrainingError, runs.CheckpointError):
    """A training checkpoint is missing, corrupt, or does not match the model being trained."""


class NonFiniteLossError(TrainingError):
    """The loss became NaN or infinite; training stops instead of corrupting the weights."""
