"""Named errors of the policy trainer and loader.

Each message names the problem and the fix, so a user sees it before any training starts.
"""

from __future__ import annotations

from vipflow import runs


class PolicyError(Exception):
    """Base class of every policy-package error."""


class DatasetError(PolicyError):
    """The selected episodes cannot form one consistent training set."""


class EmptySelectionError(DatasetError):
    """No episode (or no transition) survived the label/tag/task filters."""


class MixedActionSpaceError(DatasetError):
    """Episodes declare different action spaces, or one that differs from the requested space."""


class MixedEncoderError(DatasetError):
    """Embeddings (or the goal) come from different encoders or preprocessing."""


class NonFiniteDataError(DatasetError):
    """NaN or inf in states, actions, embeddings, rewards or weights."""


class GoalError(DatasetError):
    """No goal could be formed (no successful demo, unreadable goal image, text goal on a non-LIV encoder)."""


class TaskConditioningError(PolicyError):
    """Several tasks without task conditioning, or a task the policy was not trained on."""


class CheckpointError(PolicyError, runs.CheckpointError):
    """A policy checkpoint is missing, incomplete, corrupt or of an unknown format (``runs.CheckpointError``
    that policy error handlers catch as a ``PolicyError``)."""


class NonFiniteLossError(PolicyError):
    """The training loss (or the weights) became NaN/inf; training stopped, the last good checkpoint
    is kept."""


class ResumeMismatchError(PolicyError):
    """A resumed run would not continue the same experiment (config or data changed)."""


class PolicyInputError(PolicyError, ValueError):
    """An observation given to ``LoadedPolicy.act`` has the wrong shape or non-finite values."""


class EncoderMismatchError(PolicyError):
    """The live encoder is not the one the policy was trained on."""
