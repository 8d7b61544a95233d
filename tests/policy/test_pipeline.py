"""End to end on real episodes (EpisodeWriter bags) with a real small encoder: selection, cache,
named errors before any training, and the checkpoint acting on live embeddings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vipflow.encoders import load_encoder
from vipflow.policy import (
    EmptySelectionError,
    GoalError,
    MixedActionSpaceError,
    NonFiniteDataError,
    load_policy,
)
from vipflow.policy.train import train


def _cfg(small_config, datasets, weights, tmp_path, **kw):
    base = dict(
        datasets=(str(datasets),),
        encoder="vip",
        encoder_weights=str(weights),
        cache_dir=str(tmp_path / "cache"),
        steps=60,
        save_every=30,
        eval_every=30,
        log_every=10,
    )
    base.update(kw)
    return small_config(**base)


def test_train_from_episodes_then_act_on_live_embeddings(
    small_config, progress_dataset, small_encoder_file, tmp_path, synthetic, frame_for_progress
):
    cfg = _cfg(small_config, progress_dataset, small_encoder_file, tmp_path, run_dir=str(tmp_path / "a"))
    result = train(cfg)
    assert result.step == 60
    saved = json.loads((result.run_dir / "config.json").read_text())
    episodes = saved["resolved"]["episodes"]
    assert len(episodes) == 8 and {e["label"] for e in episodes} == {"success", "failure"}
    assert saved["resolved"]["transitions"]["train"] + saved["resolved"]["transitions"]["val"] == 8 * 20
    assert len(list((tmp_path / "cache").rglob("*.safetensors"))) == 8

    enc = load_encoder("vip", small_encoder_file)
    policy = load_policy(result.run_dir)
    policy.check_encoder(enc)
    assert policy.config.action_space == "ee_delta" and policy.config.proprio_keys == ("ee_pose", "gripper")

    emb = enc.embed_images(frame_for_progress(0.5)[None])[0]
    action = policy.act(emb, synthetic.proprio(np.array(0.5)))
    assert action.shape == (7,) and np.isfinite(action).all()

    # a second run reuses every cached embedding and sees bit-identical data
    again = train(
        _cfg(small_config, progress_dataset, small_encoder_file, tmp_path, run_dir=str(tmp_path / "b"))
    )
    saved_b = json.loads((again.run_dir / "config.json").read_text())
    assert saved_b["resolved"]["data_hash"] == saved["resolved"]["data_hash"]


def test_filters_by_label_and_tag(small_config, small_encoder_file, tmp_path, episode_writer):
    root = tmp_path / "ds"
    write = episode_writer
    write(root, "a", +1, tags=("good", "day1"))
    write(root, "b", +1, tags=("day2",))
    write(root, "c", -1, tags=("day1",))
    cfg = _cfg(
        small_config, root, small_encoder_file, tmp_path, labels=("success",), val_fraction=0.0, steps=10
    )
    names = [
        e["name"]
        for e in json.loads((train(cfg).run_dir / "config.json").read_text())["resolved"]["episodes"]
    ]
    assert sorted(n.rsplit("/", 1)[-1] for n in names) == ["a", "b"]
    cfg = _cfg(
        small_config,
        root,
        small_encoder_file,
        tmp_path,
        run_dir=str(tmp_path / "r2"),
        tags=("day1",),
        exclude_tags=("good",),
        val_fraction=0.0,
        steps=10,
    )
    with pytest.raises(GoalError, match="no episode labelled success"):  # only the failure 'c' is left
        train(cfg)
    with pytest.raises(EmptySelectionError, match=r"available labels \{'success': 2, 'failure': 1\}"):
        train(
            _cfg(
                small_config, root, small_encoder_file, tmp_path, run_dir=str(tmp_path / "r3"), tags=("day9",)
            )
        )
    assert not (tmp_path / "r2").exists() and not (tmp_path / "r3").exists()  # failed before any run files


def test_mixed_declared_action_spaces_and_nan_fail_before_training(
    small_config, small_encoder_file, tmp_path, episode_writer
):
    write = episode_writer
    mixed = tmp_path / "mixed"
    write(mixed, "a", +1, action_space="ee_delta")
    write(mixed, "b", +1, action_space="joint_delta")
    write(mixed, "c", +1)  # a kinesthetic demo declares none: fine with either
    with pytest.raises(MixedActionSpaceError, match=r"ee_delta: 1 episode.*joint_delta: 1 episode"):
        train(_cfg(small_config, mixed, small_encoder_file, tmp_path))
    with pytest.raises(MixedActionSpaceError, match="asks for joint_delta"):
        train(_cfg(small_config, mixed / "a", small_encoder_file, tmp_path, action_space="joint_delta"))

    broken = tmp_path / "broken"
    write(broken, "ok", +1)
    write(broken, "nan", +1, nan_at=7)
    with pytest.raises(NonFiniteDataError, match=r"nan: ee_pose is NaN or inf at tick\(s\) \[7\]"):
        train(_cfg(small_config, broken, small_encoder_file, tmp_path))
    assert not (tmp_path / "run").exists()
    # excluding the broken episode by selecting the good one trains
    result = train(_cfg(small_config, broken / "ok", small_encoder_file, tmp_path, steps=5, val_fraction=0.0))
    assert result.step == 5
