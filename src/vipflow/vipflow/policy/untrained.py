"""A policy checkpoint with random weights: the full save/load path without training.

For benchmarks, dry runs and tests that need a genuine ``vipflow.policy`` checkpoint (safetensors +
JSON, loaded back with ``load_policy``) but no trained behaviour.
"""

from __future__ import annotations

from pathlib import Path

from vipflow.actions import PROPRIO_FEATURES
from vipflow.actions import action_space as space_spec
from vipflow.hardware.franka import GRIPPER_MAX_WIDTH_M
from vipflow.policy import (
    EncoderRef,
    Normalization,
    PolicyConfig,
    build_policy_net,
    load_policy,
    save_policy,
)


def untrained_policy(
    encoder,
    directory: str | Path,
    *,
    action_space: str = "ee_delta",
    proprio_keys: tuple[str, ...] = ("ee_pose", "gripper"),
    step_scale: float = 0.002,
    seed: int = 0,
):
    """Save and load a policy on ``encoder`` with random weights and small actions.

    Actions come out around ``step_scale`` per step (metres / radians) with a half-open gripper, so
    the policy moves the arm a little, like an early checkpoint; the checkpoint is a genuine
    ``vipflow.policy`` one (safetensors + JSON) and is loaded back with ``load_policy``.
    """
    dim = space_spec(action_space).dim
    obs_dim = encoder.embed_dim + sum(PROPRIO_FEATURES[k] for k in proprio_keys)
    config = PolicyConfig(
        encoder=EncoderRef(encoder.name, encoder.arch, encoder.fingerprint, encoder.embed_dim,
                           encoder.similarity),
        action_space=action_space,
        proprio_keys=tuple(proprio_keys),
        normalization=Normalization(
            obs_mean=(0.0,) * obs_dim,
            obs_std=(1.0,) * obs_dim,
            action_mean=(0.0,) * (dim - 1) + (GRIPPER_MAX_WIDTH_M / 2,),
            action_std=(step_scale,) * (dim - 1) + (0.01,),
        ),
        method="bc",
    )
    net = build_policy_net(config.input_dim, config.action_dim, config.hidden_sizes, config.head, seed=seed)
    save_policy(directory, net, config, None)
    return load_policy(directory)
