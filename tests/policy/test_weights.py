"""BC / RWR / AWR / IQL transition weights: standardised rewards, normalisation, clipping, ESS."""

from __future__ import annotations

import numpy as np
import pytest

from vipflow.policy import NonFiniteDataError
from vipflow.policy.model import torch_threads
from vipflow.policy.values import ValueData, discounted_returns
from vipflow.policy.weights import WeightingConfig, WeightStats, compute_weights


def test_bc_is_uniform():
    w, stats = compute_weights(WeightingConfig(method="bc"), np.array([1.0, -3, 0.5]), np.ones(3, bool))
    np.testing.assert_array_equal(w, 1.0)
    assert stats.ess_fraction == pytest.approx(1.0)


def test_rwr_is_exp_tau_standardised_r_normalised_to_mean_one_on_train():
    r = np.array([0.0, 1.0, 2.0, -1.0, 5.0])
    train = np.array([True, True, True, True, False])
    w, stats = compute_weights(WeightingConfig(method="rwr", temperature=0.5), r, train)
    scale = r[train].std()  # the training transitions' reward std (population)
    expected = np.exp(0.5 * r / scale) / np.exp(0.5 * r[train] / scale).mean()
    np.testing.assert_allclose(w, expected, rtol=1e-6)
    assert stats.mean == pytest.approx(1.0) and stats.n == 4 and stats.reward_scale == pytest.approx(scale)
    assert stats.min == pytest.approx(expected[3], rel=1e-6) and stats.max == pytest.approx(
        expected[2], rel=1e-6
    )
    raw, stats = compute_weights(
        WeightingConfig(temperature=0.5, normalize=False, reward_scale="raw", clip=1e9), r, train
    )
    np.testing.assert_allclose(raw, np.exp(0.5 * r), rtol=1e-6)
    assert stats.reward_scale == 1.0


def test_standardised_weights_do_not_depend_on_the_encoders_reward_scale():
    # the same ranking of transitions from a small-distance and a large-distance encoder
    r = np.random.default_rng(0).normal(0.1, 1.0, 300)
    train = np.arange(300) < 250
    for cfg in (WeightingConfig(temperature=1.0), WeightingConfig(temperature=0.1, clip=5.0)):
        w_small, s_small = compute_weights(cfg, 0.003 * r, train)
        w_large, s_large = compute_weights(cfg, 40.0 * r, train)
        np.testing.assert_allclose(w_small, w_large, rtol=1e-4)
        assert s_small.ess_fraction == pytest.approx(s_large.ess_fraction, rel=1e-6)
    # raw rewards: the same tau means nearly BC for one encoder and a collapse for the other
    raw = WeightingConfig(temperature=1.0, reward_scale="raw", clip=1e9)
    assert compute_weights(raw, 0.003 * r, train)[1].ess_fraction > 0.99
    assert compute_weights(raw, 40.0 * r, train)[1].ess_fraction < 0.05


def test_clip_and_effective_sample_size():
    r = np.array([0.0] * 9 + [10.0])
    w, stats = compute_weights(WeightingConfig(temperature=1.0, clip=3.0), r, np.ones(10, bool))
    assert w.max() == pytest.approx(3.0) and stats.clipped == 1
    s = WeightStats.of(np.array([1.0, 1.0, 0.0, 0.0]))
    assert s.ess == pytest.approx(2.0) and s.ess_fraction == pytest.approx(0.5)
    assert "effective sample size 2.0" in s.summary()
    # defaults cap the weights: RWR and AWR at 20 x the mean, IQL at 100 x (robomimic)
    clips = [WeightingConfig(method=m).effective_clip for m in ("rwr", "awr", "iql", "bc")]
    assert clips == [20, 20, 100, None]


def test_low_effective_sample_size_warns_and_names_the_fix():
    r = np.random.default_rng(1).normal(0, 1, 1000)
    train = np.ones(1000, bool)
    _, ok = compute_weights(WeightingConfig(temperature=1.0), r, train)
    assert ok.ess_fraction > 0.2 and ok.warning(WeightingConfig()) is None
    cfg = WeightingConfig(temperature=4.0, clip=1e6)
    _, bad = compute_weights(cfg, r, train)
    message = bad.warning(cfg)
    assert bad.ess_fraction < 0.05 and "effective sample size" in message
    assert "lower --tau" in message and "--weight-clip" in message
    assert "raise --awr-beta" in bad.warning(WeightingConfig(method="awr"))
    assert "lower --iql-beta" in bad.warning(WeightingConfig(method="iql"))
    assert bad.warning(WeightingConfig(method="bc")) is None


def test_huge_exponent_without_normalisation_is_a_named_error():
    with pytest.raises(NonFiniteDataError, match="overflow"):
        compute_weights(
            WeightingConfig(temperature=10.0, normalize=False, reward_scale="raw"), np.array([100.0, 0.0]),
            np.ones(2, bool),
        )
    # normalised weights survive the same rewards
    w, _ = compute_weights(
        WeightingConfig(temperature=10.0, reward_scale="raw"), np.array([100.0, 0.0]), np.ones(2, bool)
    )
    assert np.isfinite(w).all()
    with pytest.raises(NonFiniteDataError, match="rewards"):
        compute_weights(WeightingConfig(), np.array([np.nan, 0.0]), np.ones(2, bool))


def test_discounted_returns_restart_at_episode_boundaries():
    r = np.array([1.0, 1.0, 1.0, 2.0, 2.0])
    ep = np.array([0, 0, 0, 1, 1])
    np.testing.assert_allclose(discounted_returns(r, ep, 0.5), [1.75, 1.5, 1.0, 3.0, 2.0])


def test_awr_favours_transitions_with_better_than_expected_returns():
    # Two kinds of state (x=0 / x=1); within each, half the transitions lead to a higher return.
    rng = np.random.default_rng(0)
    n = 200
    x = np.repeat([[0.0], [1.0]], n // 2, axis=0) + rng.normal(0, 0.01, (n, 1))
    good = np.tile([True, False], n // 2)
    rewards = np.where(good, 1.0, -1.0) + 3.0 * x[:, 0]  # the state adds a baseline the value must absorb
    episode = np.arange(n)  # one-step episodes: return == reward
    cfg = WeightingConfig(method="awr", awr_beta=1.0, value_steps=200, reward_scale="raw")
    values = ValueData(x, x, np.zeros((n, 1)), episode, np.zeros(n, bool))
    with torch_threads(1):
        w, stats = compute_weights(cfg, rewards, np.ones(n, bool), values, seed=0)
    assert w[good].mean() > 3 * w[~good].mean()
    # the baseline removed the state effect: good transitions in both states get similar weights
    assert w[good & (x[:, 0] < 0.5)].mean() == pytest.approx(w[good & (x[:, 0] > 0.5)].mean(), rel=0.5)
    assert stats.max <= 20.0


def detour_data(copies: int = 20) -> tuple[ValueData, np.ndarray, np.ndarray, np.ndarray]:
    """Two ways from the start s0: a detour (+1: reward -0.5, then +3 from s1) and a greedy step
    (-1: reward +0.5, then nothing from s2); each ends in its own state (s3 / s4) that loops on
    itself with reward 0. Rewards alone (RWR) prefer the greedy step; the return (IQL's Q) prefers
    the detour."""
    s0, s1, s2, s3, s4 = [0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 1.0]
    rows = []
    for k in range(copies):
        for detour in (True, False):
            mid, end, ep = (s1, s3, 2 * k) if detour else (s2, s4, 2 * k + 1)
            rows += [(s0, 1.0 if detour else -1.0, -0.5 if detour else 0.5, mid, ep),
                     (mid, 0.0, 3.0 if detour else 0.0, end, ep), (end, 0.0, 0.0, end, ep)]
    noise = np.random.default_rng(0).normal(0, 0.01, (2, len(rows), 2))
    x = (np.array([r[0] for r in rows]) + noise[0]).astype(np.float32)
    xn = (np.array([r[3] for r in rows]) + noise[1]).astype(np.float32)
    a = np.array([[r[1]] for r in rows], np.float32)
    values = ValueData(x, xn, a, np.array([r[4] for r in rows]), np.zeros(len(rows), bool))
    first = np.arange(len(rows)) % 3 == 0
    return values, np.array([r[2] for r in rows]), first & (a[:, 0] > 0), first & (a[:, 0] < 0)


@pytest.mark.parametrize("advantage", ["td", "q"])
def test_iql_credits_the_action_that_leads_to_progress_later(advantage):
    values, rewards, detour, greedy = detour_data()
    train = np.ones(len(rewards), bool)
    w_rwr, _ = compute_weights(WeightingConfig(method="rwr"), rewards, train)
    assert w_rwr[greedy].mean() > 2 * w_rwr[detour].mean()  # the immediate reward misleads RWR
    cfg = WeightingConfig(method="iql", value_steps=600, iql_beta=3.0, iql_advantage=advantage)
    with torch_threads(1):
        w, stats = compute_weights(cfg, rewards, train, values, seed=0)
    assert w[detour].mean() > 5 * w[greedy].mean()  # Q(s0, detour) - V(s0) > Q(s0, greedy) - V(s0)
    assert stats.max <= 100.0 and stats.mean == pytest.approx(1.0, rel=1e-3)


def test_success_bonus_needs_a_value_method_and_rewards_successful_endings():
    with pytest.raises(ValueError, match="success-bonus"):
        WeightingConfig(method="rwr", success_bonus=1.0)
    values, rewards, detour, greedy = detour_data(copies=10)
    # the greedy episodes end in success: their last transition's bonus outweighs the detour's +3
    ends = (np.arange(len(rewards)) % 3 == 2) & (values.episode_index % 2 == 1)
    values = ValueData(values.inputs, values.next_inputs, values.actions, values.episode_index, ends)
    cfg = WeightingConfig(method="iql", value_steps=600, discount=0.9, success_bonus=5.0)
    with torch_threads(1):
        w, _ = compute_weights(cfg, rewards, np.ones(len(rewards), bool), values, seed=0)
    assert w[greedy].mean() > 5 * w[detour].mean()
