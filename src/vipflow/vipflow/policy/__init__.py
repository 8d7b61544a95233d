"""Offline RWR / BC / AWR policies on frozen-encoder embeddings (VIP paper, section 2.2).

Public API: ``load_policy`` / ``LoadedPolicy`` (run time), ``PolicyConfig`` (checkpoint
self-description), ``TrainConfig`` + ``train`` (training), and the named errors.
"""

from vipflow.policy.checkpoint import latest_checkpoint, save_policy
from vipflow.policy.errors import (
    CheckpointError,
    DatasetError,
    EmptySelectionError,
    EncoderMismatchError,
    GoalError,
    MixedActionSpaceError,
    MixedEncoderError,
    NonFiniteDataError,
    PolicyError,
    PolicyInputError,
    ResumeMismatchError,
    TaskConditioningError,
)
from vipflow.policy.loaded import LoadedPolicy, load_policy
from vipflow.policy.model import PolicyNet, build_policy_net
from vipflow.policy.policy_config import EncoderRef, Normalization, PolicyConfig

__all__ = [
    "CheckpointError",
    "DatasetError",
    "EmptySelectionError",
    "EncoderMismatchError",
    "EncoderRef",
    "GoalError",
    "LoadedPolicy",
    "MixedActionSpaceError",
    "MixedEncoderError",
    "NonFiniteDataError",
    "Normalization",
    "PolicyConfig",
    "PolicyError",
    "PolicyInputError",
    "PolicyNet",
    "ResumeMismatchError",
    "TaskConditioningError",
    "build_policy_net",
    "latest_checkpoint",
    "load_policy",
    "save_policy",
]
