"""Goals built from images, text and episodes; an approaching sequence scored by real encoders."""

from __future__ import annotations

import numpy as np
import pytest
from reward_sequences import approaching, write_mp4

from vipflow.encoders import TextNotSupportedError, load_encoder
from vipflow.metrics import bump_rate, voc
from vipflow.policy.goals import goal_from_episodes, goal_from_images, goal_from_text
from vipflow.rewards import step_rewards, values


@pytest.fixture
def small():
    return load_encoder("vip", arch="convnet-small", random_init=True)


@pytest.mark.parametrize("arch", ["convnet-small", "resnet18"])
def test_approaching_sequence_positive_rewards_voc_one(arch):
    enc = load_encoder("vip", arch=arch, random_init=True, seed=4)
    frames = approaching(30)
    emb = enc.embed_images(frames)
    v = values(emb, goal_from_images(enc, frames[-1]), enc.similarity)
    r = step_rewards(v)
    assert (r > 0).all()
    assert bump_rate(r) == 0.0
    assert voc(v) > 0.99
    shuffled = np.random.default_rng(5).permutation(len(frames))
    assert abs(voc(values(enc.embed_images(frames[shuffled]), emb[-1], enc.similarity))) < 0.3


def test_goal_from_images_is_the_mean_embedding(small):
    a, b = approaching(2, seed=1), approaching(1, seed=2, h=64, w=80)  # different sizes are fine
    goal = goal_from_images(small, [a[0], a[1], b[0]])
    expected = np.concatenate([small.embed_images(a), small.embed_images(b)]).mean(0)
    np.testing.assert_allclose(goal, expected, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(goal_from_images(small, a), small.embed_images(a).mean(0), rtol=1e-6)


def test_goal_from_episodes_arrays_and_files(small, tmp_path):
    ep1, ep2 = approaching(8, seed=1), approaching(6, seed=3)
    goal = goal_from_episodes(small, [ep1, ep2], last_k=2)
    expected = small.embed_images(np.concatenate([ep1[-2:], ep2[-2:]])).mean(0)
    np.testing.assert_allclose(goal, expected, rtol=1e-5, atol=1e-8)
    from_file = goal_from_episodes(small, [write_mp4(tmp_path / "ep.mp4", ep1)], last_k=1)
    assert np.linalg.norm(from_file - small.embed_images(ep1[-1:])[0]) < 0.2 * np.linalg.norm(from_file)
    with pytest.raises(ValueError, match="last_k"):
        goal_from_episodes(small, [ep1], last_k=0)


def test_text_goal_needs_liv(small):
    with pytest.raises(TextNotSupportedError, match="use 'liv'"):
        goal_from_text(small, "close the drawer")


@pytest.mark.slow
def test_liv_text_goal_equals_text_embedding():
    liv = load_encoder("liv", random_init=True)
    goal = goal_from_text(liv, "fold the towel")
    np.testing.assert_allclose(goal, liv.embed_text(["fold the towel"])[0], rtol=1e-5)
    assert goal.shape == (1024,)
    with pytest.raises(ValueError, match="empty"):
        goal_from_text(liv, "  ")
