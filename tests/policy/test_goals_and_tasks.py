"""Explicit goals (images, LIV text), language task conditioning and the AWR variant."""

from __future__ import annotations

import json
import warnings

import cv2
import numpy as np
import pytest

from vipflow.encoders import load_encoder
from vipflow.policy import GoalError, TaskConditioningError, load_policy
from vipflow.policy.goals import demo_goals, embed_texts, explicit_goals
from vipflow.policy.policy_config import EncoderRef
from vipflow.policy.train import train
from vipflow.policy.trainer import fit
from vipflow.policy.training_set import prepare
from vipflow.policy.weights import WeightingConfig

ENC = EncoderRef("vip", "synthetic", "synthetic-encoder", 8, "l2")


def _quiet_load(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_encoder(*args, **kw)


def test_goal_images_are_embedded_and_averaged(
    small_config, progress_dataset, small_encoder_file, tmp_path, frame_for_progress
):
    paths = []
    for i, p in enumerate((0.9, 0.95)):
        path = tmp_path / f"goal{i}.png"
        cv2.imwrite(str(path), cv2.cvtColor(frame_for_progress(p), cv2.COLOR_RGB2BGR))
        paths.append(str(path))
    enc = load_encoder("vip", small_encoder_file)
    cfg = small_config(goal_images=tuple(paths))
    goal = explicit_goals(cfg, enc, ["push"])["push"]
    expected = enc.embed_images(np.stack([frame_for_progress(0.9), frame_for_progress(0.95)])).mean(0)
    np.testing.assert_allclose(goal, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(GoalError, match="describes one task"):
        explicit_goals(cfg, enc, ["push", "pull"])
    with pytest.raises(GoalError, match="cannot be read"):
        explicit_goals(small_config(goal_images=(str(tmp_path / "missing.png"),)), enc, ["push"])
    with pytest.raises(GoalError, match="LIV"):
        explicit_goals(small_config(goal_text="close the drawer"), enc, ["push"])
    with pytest.raises(TaskConditioningError, match="LIV"):
        embed_texts(enc, ["push"], "task")

    # through the whole pipeline: the run records where its goal came from
    cfg = small_config(
        datasets=(str(progress_dataset),),
        encoder_weights=str(small_encoder_file),
        cache_dir=str(tmp_path / "cache"),
        goal_images=tuple(paths),
        steps=5,
        labels=("failure",),
    )
    result = train(cfg)  # failures only: fine, the goal does not need a successful demo
    assert load_policy(result.run_dir).config.extra["goal"] == "images"


def test_liv_text_goal_and_language_conditioned_policy(synthetic, small_config):
    liv = _quiet_load("liv", random_init=True)
    goal = explicit_goals(small_config(goal_text="push the object"), liv, ["push"])["push"]
    np.testing.assert_allclose(goal, liv.embed_text(["push the object"])[0], rtol=1e-5)

    episodes = synthetic.episodes(pairs=1, task="push") + synthetic.episodes(pairs=1, task="pull")
    texts = dict(zip(["pull", "push"], liv.embed_text(["pull the object", "push the object"]), strict=True))
    cfg = small_config(task_conditioning="text", steps=20, val_fraction=0.0)
    data = prepare(episodes, demo_goals(episodes), ENC, cfg, task_texts=texts)
    assert data.policy.task_dim == 1024 and data.task_table.shape == (2, 1024)
    np.testing.assert_allclose(np.linalg.norm(data.task_table, axis=1), 1.0, rtol=1e-5)
    policy = load_policy(fit(data, cfg).run_dir)
    emb, pro = synthetic.embedding(np.array(0.5)), synthetic.proprio(np.array(0.5))
    assert not np.allclose(policy.act(emb, pro, task="push"), policy.act(emb, pro, task="pull"))
    with pytest.raises(TaskConditioningError, match="register_task"):
        policy.act(emb, pro, task="shove")
    policy.register_task("shove", liv.embed_text(["shove the object"])[0])
    assert policy.act(emb, pro, task="shove").shape == (7,)


def test_awr_run_records_its_weights(synthetic, small_config):
    cfg = small_config(steps=20, weighting=WeightingConfig(method="awr", value_steps=50))
    episodes = synthetic.episodes(pairs=2)
    data = prepare(episodes, demo_goals(episodes), ENC, cfg)
    result = fit(data, cfg)
    saved = json.loads((result.run_dir / "config.json").read_text())
    assert saved["resolved"]["policy"]["method"] == "awr"
    assert saved["resolved"]["weight_stats"]["max"] <= 20.0
    assert data.weight_stats.ess_fraction < 1.0
