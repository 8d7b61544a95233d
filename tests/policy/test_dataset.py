"""Dataset checks: every inconsistent or broken input is a named error before training."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vipflow.policy import (
    DatasetError,
    EmptySelectionError,
    GoalError,
    MixedActionSpaceError,
    MixedEncoderError,
    NonFiniteDataError,
    TaskConditioningError,
)
from vipflow.policy.goals import demo_goals
from vipflow.policy.policy_config import EncoderRef
from vipflow.policy.training_set import prepare
from vipflow.policy.transitions import split_episodes, stack_transitions

ENC = EncoderRef("vip", "synthetic", "synthetic-encoder", 8, "l2")


def _prepare(episodes, cfg):
    return prepare(episodes, demo_goals(episodes), ENC, cfg)


def test_empty_selection(small_config):
    with pytest.raises(EmptySelectionError, match="no episodes selected"):
        prepare([], {}, ENC, small_config())


def test_mixed_action_spaces(synthetic, small_config):
    eps = synthetic.episodes(pairs=2)
    eps[1] = dataclasses.replace(eps[1], action_space="joint_delta", actions=np.zeros((20, 8), np.float32))
    with pytest.raises(MixedActionSpaceError, match=r"ee_delta: 3 episode.*joint_delta: 1 episode"):
        _prepare(eps, small_config())


def test_mixed_encoders(synthetic, small_config):
    eps = synthetic.episodes(pairs=2)
    eps[2] = dataclasses.replace(eps[2], encoder_fingerprint="another-encoder")
    with pytest.raises(MixedEncoderError, match="2 different encoders"):
        _prepare(eps, small_config())
    with pytest.raises(MixedEncoderError, match="goal embedding has shape"):
        stack_transitions(synthetic.episodes(pairs=1), {"push": np.zeros(16, np.float32)}, "l2")


@pytest.mark.parametrize("field", ["embeddings", "proprio", "actions"])
def test_nan_anywhere_is_named(synthetic, small_config, field):
    eps = synthetic.episodes(pairs=2)
    arr = getattr(eps[3], field).copy()
    arr[5, 0] = np.nan
    eps[3] = dataclasses.replace(eps[3], **{field: arr})
    with pytest.raises(NonFiniteDataError, match=r"push_back_1.*tick\(s\) \[5\]"):
        _prepare(eps, small_config())


def test_short_and_misaligned_episodes(synthetic, small_config):
    eps = synthetic.episodes(pairs=1)
    short = dataclasses.replace(
        eps[0], embeddings=eps[0].embeddings[:1], proprio=eps[0].proprio[:1], actions=eps[0].actions[:0]
    )
    with pytest.raises(DatasetError, match="at least 2"):
        _prepare([short, eps[1]], small_config())
    bad = dataclasses.replace(eps[0], actions=eps[0].actions[:-1])
    with pytest.raises(DatasetError, match="do not line up"):
        _prepare([bad, eps[1]], small_config())


def test_goal_needs_a_success_and_is_the_mean_last_frame(synthetic):
    eps = synthetic.episodes(pairs=2)
    with pytest.raises(GoalError, match="no episode labelled success"):
        demo_goals([e for e in eps if e.label == "failure"])
    goal = demo_goals(eps)["push"]
    successes = [e for e in eps if e.label == "success"]
    np.testing.assert_allclose(goal, np.mean([e.embeddings[-1] for e in successes], axis=0), rtol=1e-6)
    goal3 = demo_goals(eps, last_frames=3)["push"]
    np.testing.assert_allclose(
        goal3, np.concatenate([e.embeddings[-3:] for e in successes]).mean(0), rtol=1e-6
    )


def test_rewards_follow_eq4(synthetic):
    eps = synthetic.episodes(pairs=1)
    goal = demo_goals(eps)
    tr = stack_transitions(eps, goal, "l2")
    e = eps[0]
    v = -np.linalg.norm(e.embeddings - goal["push"], axis=1)
    np.testing.assert_allclose(tr.rewards[: len(e.actions)], np.diff(v), rtol=1e-4, atol=1e-6)
    assert (tr.rewards[: len(e.actions)] > 0).mean() > 0.9  # forward demo: mostly progress
    assert (tr.rewards[len(e.actions) :] < 0).mean() > 0.9  # backward demo: mostly regress


def test_several_tasks_need_conditioning(synthetic, small_config):
    eps = synthetic.episodes(pairs=1, task="push") + synthetic.episodes(pairs=1, task="pull")
    with pytest.raises(TaskConditioningError, match="--task-conditioning"):
        _prepare(eps, small_config(task_conditioning="none"))
    with pytest.raises(TaskConditioningError, match="LIV"):
        _prepare(eps, small_config(task_conditioning="text"))
    data = _prepare(eps, small_config())  # auto -> one-hot
    assert data.policy.task_conditioning == "onehot" and data.policy.tasks == ("pull", "push")
    assert data.train_x.shape[1] == 8 + 8 + 2


def test_split_holds_out_whole_episodes_deterministically():
    a = split_episodes(20, 0.1, seed=3)
    assert a.sum() == 2 and np.array_equal(a, split_episodes(20, 0.1, seed=3))
    assert not np.array_equal(a, split_episodes(20, 0.1, seed=4))
    assert split_episodes(3, 0.1, 0).sum() == 1  # at least one held out when asked
    assert split_episodes(1, 0.5, 0).sum() == 0  # never the only episode
    assert split_episodes(5, 0.0, 0).sum() == 0
