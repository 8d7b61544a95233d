"""values / step_rewards and the metrics against hand-computed numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vipflow.metrics import auroc, bump_rate, voc
from vipflow.rewards import distance_to_goal, step_rewards, values


def test_l2_values_and_rewards_by_hand():
    emb = np.array([[3.0, 4.0], [0.0, 2.0], [0.0, 0.0]])
    v = values(emb, np.zeros(2), "l2")
    np.testing.assert_allclose(v, [-5.0, -2.0, 0.0])
    np.testing.assert_allclose(step_rewards(v), [3.0, 2.0])  # v[t+1] - v[t]
    np.testing.assert_allclose(distance_to_goal(v), [5.0, 2.0, 0.0])
    assert step_rewards(v).sum() == pytest.approx(v[-1] - v[0])  # telescopes


def test_cosine_values_scaled_by_one_minus_gamma():
    emb = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    v = values(emb, np.array([0.0, 3.0]), "cosine", gamma=0.98)
    np.testing.assert_allclose(v, np.array([0.0, 1 / math.sqrt(2), 1.0]) / 0.02, rtol=1e-6)
    v9 = values(emb, np.array([0.0, 3.0]), "cosine", gamma=0.9)
    np.testing.assert_allclose(v9, np.array([0.0, 1 / math.sqrt(2), 1.0]) / 0.1, rtol=1e-6)


def test_values_reject_bad_input():
    with pytest.raises(ValueError, match=r"must be \(T,D\) and \(D,\)"):
        values(np.zeros((3, 4)), np.zeros(5), "l2")
    with pytest.raises(ValueError, match="NaN"):
        values(np.array([[np.nan, 0.0]]), np.zeros(2), "l2")
    with pytest.raises(ValueError, match="unknown similarity"):
        values(np.zeros((2, 2)), np.zeros(2), "dot")
    with pytest.raises(ValueError, match="gamma"):
        values(np.ones((2, 2)), np.ones(2), "cosine", gamma=1.0)


def test_voc_by_hand():
    # ranks [1,3,2,4] vs [1,2,3,4]: sum d^2 = 2 -> 1 - 6*2/(4*15) = 0.8
    assert voc([1.0, 3.0, 2.0, 4.0]) == pytest.approx(0.8)
    # ties get average ranks: [1.5,1.5,3] vs [1,2,3] -> 1.5/sqrt(2*1.5)
    assert voc([5.0, 5.0, 7.0]) == pytest.approx(1.5 / math.sqrt(3.0))
    assert voc([4.0, 3.0, 2.0, 1.0]) == pytest.approx(-1.0)


def test_voc_undefined_counts_as_zero():
    assert voc([2.0, 2.0, 2.0]) == 0.0
    assert voc([1.0]) == 0.0
    assert math.isnan(voc([2.0, 2.0], nan_as_zero=False))


def test_bump_rate_by_hand():
    assert bump_rate([0.1, -0.2, 0.0, 0.3, -0.1]) == pytest.approx(0.4)  # zero is not a bump
    assert bump_rate([1.0, 2.0]) == 0.0
    assert math.isnan(bump_rate([]))


def test_auroc_by_hand_with_ties():
    # pairs: .9>.5, .9>.1, .5=.5 (1/2), .5>.1, .5=.5 (1/2), .5>.1 -> 5/6
    assert auroc([0.9, 0.5, 0.5], [0.5, 0.1]) == pytest.approx(5 / 6)
    assert auroc([2.0, 3.0], [0.0, 1.0]) == 1.0
    assert auroc([0.0], [1.0, 2.0]) == 0.0
    assert auroc([1.0, 1.0], [1.0]) == 0.5


def test_auroc_needs_both_labels():
    with pytest.raises(ValueError, match="both labels"):
        auroc([1.0], [])
