"""load_policy / LoadedPolicy: the run-time contract (shape checks, un-normalisation, tasks, errors)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vipflow.actions import proprio_vector
from vipflow.policy import (
    CheckpointError,
    EncoderMismatchError,
    EncoderRef,
    Normalization,
    PolicyConfig,
    PolicyInputError,
    TaskConditioningError,
    build_policy_net,
    load_policy,
    save_policy,
)

EMB = 16


def _config(task_conditioning="none", tasks=(), task_dim=0, head="deterministic") -> PolicyConfig:
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(50, EMB + 8)) * 3 + 1
    act = rng.normal(size=(50, 7)) * 0.01
    return PolicyConfig(
        encoder=EncoderRef("vip", "convnet-small", "f" * 64, EMB),
        action_space="ee_delta",
        proprio_keys=("ee_pose", "gripper"),
        normalization=Normalization.fit(obs, act),
        task_conditioning=task_conditioning,
        tasks=tasks,
        task_dim=task_dim,
        hidden_sizes=(32, 32),
        head=head,
    )


def _save(tmp_path, config, table=None):
    net = build_policy_net(config.input_dim, config.action_dim, config.hidden_sizes, config.head, seed=3)
    save_policy(tmp_path / "ckpt", net, config, table)
    return net


@pytest.mark.parametrize("head", ["deterministic", "gaussian"])
def test_act_matches_network_and_unnormalises(tmp_path, head):
    cfg = _config(head=head)
    net = _save(tmp_path, cfg)
    policy = load_policy(tmp_path / "ckpt")
    emb = np.random.default_rng(1).normal(size=EMB).astype(np.float32)
    pro = proprio_vector(cfg.proprio_keys, np.zeros(7), np.array([0.4, 0, 0.3, 0, 0, 0, 1.0]), 0.04)
    action = policy.act(emb, pro)
    assert action.shape == (7,) and action.dtype == np.float32
    x = torch.from_numpy(cfg.normalization.obs(np.concatenate([emb, pro])[None]))
    expected = cfg.normalization.unaction(net(x)[0].detach().numpy())[0]
    np.testing.assert_allclose(action, expected, rtol=1e-6)
    batch = policy.act(np.stack([emb, emb]), np.stack([pro, pro]))
    assert batch.shape == (2, 7)
    np.testing.assert_allclose(batch[1], action, rtol=1e-6)


def test_bad_inputs_are_named(tmp_path):
    cfg = _config()
    _save(tmp_path, cfg)
    policy = load_policy(tmp_path / "ckpt")
    with pytest.raises(PolicyInputError, match="expects 16"):
        policy.act(np.zeros(EMB + 1), np.zeros(8))
    with pytest.raises(PolicyInputError, match="proprio"):
        policy.act(np.zeros(EMB), np.zeros(7))
    bad = np.zeros(EMB)
    bad[3] = np.nan
    with pytest.raises(PolicyInputError, match="NaN"):
        policy.act(bad, np.zeros(8))


def test_encoder_check(tmp_path):
    _save(tmp_path, _config())
    policy = load_policy(tmp_path / "ckpt")

    class Live:
        name, arch, fingerprint = "vip", "convnet-small", "0" * 64

    with pytest.raises(EncoderMismatchError, match="retrain"):
        policy.check_encoder(Live())
    Live.fingerprint = "f" * 64
    policy.check_encoder(Live())


def test_onehot_and_text_tasks(tmp_path):
    cfg = _config("onehot", ("open", "close"), 2)
    _save(tmp_path, cfg, np.eye(2, dtype=np.float32))
    policy = load_policy(tmp_path / "ckpt")
    a = policy.act(np.zeros(EMB), np.zeros(8), task="open")
    b = policy.act(np.zeros(EMB), np.zeros(8), task="close")
    assert not np.allclose(a, b)
    with pytest.raises(TaskConditioningError, match="pass one of"):
        policy.act(np.zeros(EMB), np.zeros(8))
    with pytest.raises(TaskConditioningError, match="unknown task"):
        policy.act(np.zeros(EMB), np.zeros(8), task="wipe")

    cfg = _config("text", ("open the drawer",), 4)
    _save(tmp_path / "t", cfg, np.eye(1, 4, dtype=np.float32))
    policy = load_policy(tmp_path / "t" / "ckpt")
    policy.act(np.zeros(EMB), np.zeros(8))  # single task: no task needed
    policy.register_task("shut the drawer", np.array([0, 2.0, 0, 0]))
    assert policy.act(np.zeros(EMB), np.zeros(8), task="shut the drawer").shape == (7,)


def test_corrupt_and_mismatched_checkpoints(tmp_path):
    cfg = _config()
    _save(tmp_path, cfg)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(CheckpointError, match="no policy checkpoint"):
        load_policy(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_policy(tmp_path / "nope")
    data = json.loads((ckpt / "policy.json").read_text())
    data["hidden_sizes"] = [64, 64]
    (ckpt / "policy.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="does not match"):
        load_policy(ckpt)
    data["hidden_sizes"] = [32, 32]
    (ckpt / "policy.json").write_text(json.dumps(data))
    load_policy(ckpt / "policy.safetensors")
    raw = (ckpt / "policy.safetensors").read_bytes()
    (ckpt / "policy.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_policy(ckpt)
