"""BC / RWR / AWR transition weights, their normalisation, clipping and statistics."""

from __future__ import annotations

import numpy as np
import pytest

from vipflow.policy import NonFiniteDataError
from vipflow.policy.model import torch_threads
from vipflow.policy.weights import WeightingConfig, WeightStats, compute_weights, discounted_returns


def test_bc_is_uniform():
    w, stats = compute_weights(WeightingConfig(method="bc"), np.array([1.0, -3, 0.5]), np.ones(3, bool))
    np.testing.assert_array_equal(w, 1.0)
    assert stats.ess_fraction == pytest.approx(1.0)


def test_rwr_is_exp_tau_r_normalised_to_mean_one_on_train():
    r = np.array([0.0, 1.0, 2.0, -1.0, 5.0])
    train = np.array([True, True, True, True, False])
    w, stats = compute_weights(WeightingConfig(method="rwr", temperature=0.5), r, train)
    expected = np.exp(0.5 * r) / np.exp(0.5 * r[train]).mean()
    np.testing.assert_allclose(w, expected, rtol=1e-6)
    assert stats.mean == pytest.approx(1.0) and stats.n == 4
    assert stats.min == pytest.approx(expected[3], rel=1e-6) and stats.max == pytest.approx(
        expected[2], rel=1e-6
    )
    raw, _ = compute_weights(WeightingConfig(temperature=0.5, normalize=False), r, train)
    np.testing.assert_allclose(raw, np.exp(0.5 * r), rtol=1e-6)


def test_clip_and_effective_sample_size():
    r = np.array([0.0] * 9 + [10.0])
    w, stats = compute_weights(WeightingConfig(temperature=1.0, clip=3.0), r, np.ones(10, bool))
    assert w.max() == pytest.approx(3.0) and stats.clipped == 1
    s = WeightStats.of(np.array([1.0, 1.0, 0.0, 0.0]))
    assert s.ess == pytest.approx(2.0) and s.ess_fraction == pytest.approx(0.5)
    assert "effective sample size 2.0" in s.summary()


def test_huge_exponent_without_normalisation_is_a_named_error():
    with pytest.raises(NonFiniteDataError, match="overflow"):
        compute_weights(
            WeightingConfig(temperature=10.0, normalize=False), np.array([100.0, 0.0]), np.ones(2, bool)
        )
    # normalised weights survive the same rewards
    w, _ = compute_weights(WeightingConfig(temperature=10.0), np.array([100.0, 0.0]), np.ones(2, bool))
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
    cfg = WeightingConfig(method="awr", awr_beta=1.0, value_steps=200)
    with torch_threads(1):
        w, stats = compute_weights(cfg, rewards, np.ones(n, bool), episode_index=episode, inputs=x, seed=0)
    assert w[good].mean() > 3 * w[~good].mean()
    # the baseline removed the state effect: good transitions in both states get similar weights
    assert w[good & (x[:, 0] < 0.5)].mean() == pytest.approx(w[good & (x[:, 0] > 0.5)].mean(), rel=0.5)
    assert stats.max <= 20.0
