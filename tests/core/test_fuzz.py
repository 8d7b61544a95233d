"""Issue 12, deliverable 8: seeded mutations of a small episode and of a small policy folder
through the loaders. Every outcome must be a pass that gives exactly the original result
(a provably harmless mutation) or a named error; a traceback of any other kind, a hang (10 s per
case) or a pass with a different result fails the test. Counts are printed (pytest -s).

The episode is loaded the way `validate` and training load it (listing, read_episode, the 25 Hz
grid with frames, finite states); the policy through load_policy + act and load_training_state.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import signal
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from vipflow.episodes import EpisodeError, EpisodeMeta, EpisodeWriter, list_episodes, read_episode
from vipflow.hardware import Frame, RobotState
from vipflow.policy import CheckpointError, load_policy
from vipflow.policy.checkpoint import load_training_state, save_policy, save_training_state
from vipflow.policy.model import build_policy_net, make_optimizer
from vipflow.policy.policy_config import EncoderRef, Normalization, PolicyConfig

CASE_TIMEOUT_S = 10


class Hang(Exception):
    pass


@contextlib.contextmanager
def deadline(seconds: int):
    def on_alarm(*_):
        raise Hang(f"no outcome within {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def outcome(load, reference, named: type[BaseException]) -> str:
    """'identical', or the named error's class; anything else fails the test."""
    try:
        with deadline(CASE_TIMEOUT_S):
            result = load()
    except named as exc:
        assert len(str(exc).splitlines()) == 1, str(exc)  # the CLI prints it as one line
        return getattr(exc, "label", type(exc).__name__)
    assert result == reference, "a mutation passed the loader and changed its result"
    return "identical"


# -- the episode ---------------------------------------------------------------------------------------
def _write_episode(path: Path) -> Path:
    with EpisodeWriter(path, EpisodeMeta(task="fuzz", camera={"fps": 25.0}, robot={"state_rate_hz": 25.0}),
                       time_offset_ns=0) as w:
        for i in range(25):
            t = 10**12 + i * 40_000_000
            img = np.zeros((16, 24, 3), np.uint8)
            img[..., 0] = 8 * i
            w.write_frame(Frame(t, img))
            pose = np.array([0.4 + 0.01 * i, 0, 0.3, 0, 0, 0, 1.0])
            w.write_state(RobotState(t, np.linspace(0, 0.6, 7) + 0.01 * i, np.zeros(7), pose, 0.04))
        w.close("success")
    return path


def _load_episode(path: Path):
    """What training gets from an episode: listing status, metadata, grid arrays (finite)."""
    (summary,) = list_episodes(path.parent)
    if not summary.usable:  # what training's selection skips (and validate fails)
        exc = EpisodeError(f"{summary.status}: {summary.problem}")
        exc.label = f"listed {summary.status}: {summary.error}"
        raise exc
    ep = read_episode(path)
    g = ep.on_grid(25.0)
    arrays = (g.frames, g.joint_pos, g.ee_pose, g.gripper, g.t_ns)
    if not all(np.isfinite(a).all() for a in arrays[1:4]):
        exc = EpisodeError("NaN/inf robot state")
        exc.label = "NonFiniteState"  # validate's name; training refuses it as NonFiniteDataError
        raise exc
    return (json.dumps(ep.meta.to_dict(), sort_keys=True), *(a.tobytes() for a in arrays))


def _flip(path: Path, rng: random.Random, bits: int = 1) -> None:
    raw = bytearray(path.read_bytes())
    for _ in range(bits):
        raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(raw))


def _truncate(path: Path, rng: random.Random) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: rng.randrange(len(raw))])


WRONG_VALUES = [None, 7, -1, 1e308, "x", [], {}, True, float("nan")]


def _edit_meta(ep: Path, rng: random.Random) -> None:
    """Replace one metadata field by a value of another type, in episode.json or metadata.yaml."""
    field = rng.choice(["task", "label", "tags", "nominal_rate_hz", "camera", "incomplete", "index",
                        "start_time_ns", "extra", "action_space"])
    value = rng.choice(WRONG_VALUES)
    if rng.random() < 0.5:
        info = json.loads((ep / "episode.json").read_text())
        info["meta"][field] = value
        (ep / "episode.json").write_text(json.dumps(info))
    else:
        doc = yaml.safe_load((ep / "metadata.yaml").read_text())
        custom = doc["rosbag2_bagfile_information"]["custom_data"]
        meta = json.loads(custom["vipflow.episode"])
        meta[field] = value
        custom["vipflow.episode"] = json.dumps(meta)
        (ep / "metadata.yaml").write_text(yaml.safe_dump(doc))


def _edit_structure(ep: Path, rng: random.Random) -> None:
    target = rng.choice(["episode.json", "metadata.yaml"])
    text = rng.choice(["[]", "5", '"text"', "{}", '{"meta": 5}', "null", ""])
    (ep / target).write_text(text)


def _edit_messages(ep: Path, rng: random.Random) -> None:
    """Messages rewritten with valid checksums (what a buggy tool could produce)."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "episodes"))
    from episode_synth import rewrite_messages

    from vipflow.episodes import messages as m

    kind = rng.choice(["drop", "swap", "nan", "resize"])

    def change(msgs):
        k = rng.randrange(len(msgs))
        if kind == "drop":
            return msgs[:k] + msgs[k + 1 :]
        if kind == "swap":
            j = min(k + 1, len(msgs) - 1)
            same = [i for i in range(len(msgs)) if msgs[i][0] == msgs[k][0]]
            j = same[min(same.index(k) + 1, len(same) - 1)]
            msgs[k], msgs[j] = msgs[j], msgs[k]
            return msgs
        topic = m.TOPIC_JOINTS if kind == "nan" else m.TOPIC_IMAGE
        k = rng.choice([i for i, x in enumerate(msgs) if x[0] == topic])
        msg = m.deserialize(msgs[k][2], m.TOPIC_TYPES[topic])
        if kind == "nan":
            msg.position[rng.randrange(7)] = np.nan
        else:
            msg.height, msg.width, msg.step = msg.height * 2, msg.width // 2, (msg.width // 2) * 3
        msgs[k] = (msgs[k][0], msgs[k][1], m.serialize(msg, m.TOPIC_TYPES[topic]))
        return msgs

    rewrite_messages(ep, change)


def episode_mutations(rng: random.Random) -> list[tuple[str, object]]:
    def mcap(ep):
        return next(ep.glob("*.mcap"))

    cases = []
    cases += [("mcap byte flip", lambda ep, r=rng: _flip(mcap(ep), r, r.randint(1, 3))) for _ in range(14)]
    cases += [("mcap truncation", lambda ep, r=rng: _truncate(mcap(ep), r)) for _ in range(4)]
    cases += [("episode.json byte flip", lambda ep, r=rng: _flip(ep / "episode.json", r)) for _ in range(3)]
    cases += [("metadata.yaml byte flip", lambda ep, r=rng: _flip(ep / "metadata.yaml", r)) for _ in range(3)]
    cases += [("metadata type edit", lambda ep, r=rng: _edit_meta(ep, r)) for _ in range(6)]
    cases += [("metadata structure edit", lambda ep, r=rng: _edit_structure(ep, r)) for _ in range(3)]
    cases += [("message edit", lambda ep, r=rng: _edit_messages(ep, r)) for _ in range(5)]
    return cases


# -- the policy folder -----------------------------------------------------------------------------------
def _write_policy(ckpt: Path) -> None:
    cfg = PolicyConfig(
        encoder=EncoderRef("vip", "convnet-small", "f" * 64, 8),
        action_space="ee_delta",
        proprio_keys=("gripper",),
        normalization=Normalization(tuple(np.linspace(-1, 1, 9)), tuple(np.linspace(0.5, 2, 9)),
                                    tuple([0.0] * 7), tuple([0.01] * 7)),
        hidden_sizes=(16, 16),
    )
    net = build_policy_net(cfg.input_dim, cfg.action_dim, cfg.hidden_sizes, cfg.head, seed=0)
    save_policy(ckpt, net, cfg, None)
    opt = make_optimizer(net, 1e-3)
    net(torch.ones(4, cfg.input_dim))[0].sum().backward()
    opt.step()
    save_training_state(ckpt, opt, torch.Generator().manual_seed(0), 0, {"data_hash": "d"})


PROBE = (np.linspace(-1, 1, 8, dtype=np.float32), np.array([0.04], np.float32))


def _load_policy_folder(ckpt: Path):
    policy = load_policy(ckpt)
    action = policy.act(*PROBE)
    net = build_policy_net(policy.config.input_dim, 7, policy.config.hidden_sizes, policy.config.head)
    opt = make_optimizer(net, 1e-3)
    gen = torch.Generator()
    meta = load_training_state(ckpt, opt, gen)
    moments = [v.numpy().tobytes() for s in opt.state.values() for v in s.values() if torch.is_tensor(v)]
    return action.tobytes(), json.dumps(meta, sort_keys=True), gen.get_state().numpy().tobytes(), *moments


def _edit_tensor(ckpt: Path, rng: random.Random) -> None:
    name = rng.choice(["policy.safetensors", "training_state.safetensors"])
    path = ckpt / name
    tensors = load_file(str(path))
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    key = rng.choice(sorted(k for k, v in tensors.items() if v.dtype.is_floating_point))
    kind = rng.choice(["nan", "inf", "huge", "tiny change", "shape", "dtype"])
    t = tensors[key]
    if kind == "shape":
        tensors[key] = t.reshape(-1)[:-1].clone()
    elif kind == "dtype":
        tensors[key] = t.double()
    else:
        t.view(-1)[rng.randrange(t.numel())] = {"nan": float("nan"), "inf": float("inf"), "huge": 1e30}.get(
            kind, float(t.view(-1)[0]) + 1e-3)
    save_file(tensors, str(path), metadata=meta)  # the stored checksum is the original one


def _edit_json(ckpt: Path, rng: random.Random) -> None:
    name = rng.choice(["policy.json", "training_state.json"])
    doc = json.loads((ckpt / name).read_text())
    if name == "policy.json":
        key = rng.choice(["obs_mean", "obs_std", "action_mean", "action_std"])
        values = doc["normalization"][key]
        values[rng.randrange(len(values))] = rng.choice([float("nan"), 0.0, -1.0, 1e30, "x", None, 0.33])
    else:
        choice = rng.choice(["step", "lr", "betas"])
        value = rng.choice([1e12, -3, float("nan"), "5", None, 0.5])
        if choice == "step":
            doc["step"] = value
        else:
            doc["param_groups"][0][choice] = value
    (ckpt / name).write_text(json.dumps(doc))


def policy_mutations(rng: random.Random) -> list[tuple[str, object]]:
    files = ["policy.safetensors", "policy.json", "training_state.safetensors", "training_state.json"]
    cases = []
    for f in files:
        cases += [(f"{f} byte flip", lambda c, f=f, r=rng: _flip(c / f, r, r.randint(1, 2)))] * 4
    cases += [(f"{f} truncation", lambda c, f=f, r=rng: _truncate(c / f, r)) for f in files]
    cases += [("tensor edit", lambda c, r=rng: _edit_tensor(c, r)) for _ in range(8)]
    cases += [("json edit", lambda c, r=rng: _edit_json(c, r)) for _ in range(6)]
    return cases


@pytest.mark.slow
def test_fuzz_episode_and_policy_folder(tmp_path):
    rng = random.Random(20240612)
    original = _write_episode(tmp_path / "ref" / "ds" / "episode_0000")
    reference = _load_episode(original)
    counts: dict[str, Counter] = {"episode": Counter(), "policy": Counter()}
    for i, (what, mutate) in enumerate(episode_mutations(rng)):
        ep = tmp_path / f"e{i}" / "ds" / "episode_0000"
        shutil.copytree(original.parent, ep.parent)
        mutate(ep)
        result = outcome(lambda ep=ep: _load_episode(ep), reference, EpisodeError)
        counts["episode"][f"{what}: {result}"] += 1

    _write_policy(tmp_path / "policy")
    policy_reference = _load_policy_folder(tmp_path / "policy")
    for i, (what, mutate) in enumerate(policy_mutations(rng)):
        ckpt = tmp_path / f"p{i}"
        shutil.copytree(tmp_path / "policy", ckpt)
        mutate(ckpt)
        result = outcome(lambda c=ckpt: _load_policy_folder(c), policy_reference, CheckpointError)
        counts["policy"][f"{what}: {result}"] += 1

    for kind, c in counts.items():
        total = Counter()
        for key, n in c.items():
            total[key.rsplit(": ", 1)[1]] += n
        print(f"\nfuzz {kind}: {sum(c.values())} mutations -> {dict(sorted(total.items()))}")
        for key, n in sorted(c.items()):
            print(f"  {key}: {n}")
    assert sum(counts["episode"].values()) >= 30 and sum(counts["policy"].values()) >= 30
