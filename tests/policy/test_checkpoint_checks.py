"""Issue 12, finding 4: corrupt policies are refused before use, never run as an ordinary result.

Each case edits a real checkpoint written by the trainer (the way a damaged disk or a hand edit
would) and asserts the loader, ``train --resume`` and ``evaluate run`` refuse it with a one-line
CheckpointError naming the file; before the fix they loaded, acted and reported "0/1 = 0 %".
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from vipflow.cli.main import main
from vipflow.policy import CheckpointError, load_policy
from vipflow.policy.checkpoint import HASH_KEY, STATE_JSON, STATE_TENSORS, content_hash
from vipflow.policy.errors import NonFiniteLossError
from vipflow.policy.goals import demo_goals
from vipflow.policy.policy_config import EncoderRef
from vipflow.policy.trainer import fit
from vipflow.policy.training_set import prepare

ENC = EncoderRef("vip", "synthetic", "synthetic-encoder", 8, "l2")


@pytest.fixture
def trained(synthetic, small_config, tmp_path):
    """A finished 60-step run (checkpoint step_00000060) and the data it was trained on."""
    episodes = synthetic.episodes(pairs=3)
    cfg = small_config(run_dir=str(tmp_path / "original"), steps=60, save_every=60, hidden_sizes=(16, 16))
    data = prepare(episodes, demo_goals(episodes), ENC, cfg)
    fit(data, cfg)
    return cfg, data


def _copy(trained, tmp_path):
    cfg = trained[0]
    run = tmp_path / "copy"
    shutil.copytree(cfg.run_dir, run)
    return run, run / "checkpoints" / "step_00000060"


def _rewrite_weights(ckpt, change, *, rehash=True):
    """Change the tensors of policy.safetensors; ``rehash`` keeps the checksum consistent, so only
    the value checks can catch the change (as for a policy saved by a buggy trainer)."""
    path = ckpt / "policy.safetensors"
    tensors = load_file(str(path))
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    change(tensors)
    if rehash:
        meta[HASH_KEY] = content_hash(json.loads((ckpt / "policy.json").read_text()), tensors)
    save_file(tensors, str(path), metadata=meta)


def _rewrite_config(ckpt, change):
    doc = json.loads((ckpt / "policy.json").read_text())
    change(doc)
    (ckpt / "policy.json").write_text(json.dumps(doc))
    tensors = load_file(str(ckpt / "policy.safetensors"))
    save_file(tensors, str(ckpt / "policy.safetensors"),
              metadata={"vipflow_policy_format": "1", HASH_KEY: content_hash(doc, tensors)})


def _first_weight(t):
    return next(k for k in t if k.endswith("weight"))


WEIGHT_EDITS = {
    "nan weight": lambda t: t[_first_weight(t)].view(-1).__setitem__(0, float("nan")),
    "inf weight": lambda t: t[_first_weight(t)].view(-1).__setitem__(3, float("inf")),
    "huge weight": lambda t: t[_first_weight(t)].view(-1).__setitem__(0, 1e20),
    "float64 weights": lambda t: t.update({k: v.double() for k, v in t.items()}),
    "wrong shape": lambda t: t.update({_first_weight(t): t[_first_weight(t)][:, :-1].contiguous()}),
}


def _set_stat(key, index, value):
    def change(doc):
        values = list(doc["normalization"][key])
        values[index] = value
        doc["normalization"][key] = values

    return change


STAT_EDITS = {
    "nan obs mean": _set_stat("obs_mean", 0, float("nan")),
    "inf action mean": _set_stat("action_mean", 1, float("inf")),
    "zero obs std": _set_stat("obs_std", 2, 0.0),
    "negative action std": _set_stat("action_std", 0, -0.5),
    "huge action std": _set_stat("action_std", 0, 1e30),
    "tiny obs std": _set_stat("obs_std", 0, 1e-30),
    "short action std": lambda doc: doc["normalization"].update(
        action_std=doc["normalization"]["action_std"][:-1]),
    "hidden size as text": lambda doc: doc.update(hidden_sizes=["64", 64]),
    "huge embedding": lambda doc: doc["encoder"].update(embed_dim=10**12),
}


@pytest.mark.parametrize("edit", sorted(WEIGHT_EDITS))
def test_bad_weights_refused_by_the_loader(trained, tmp_path, edit):
    run, ckpt = _copy(trained, tmp_path)
    _rewrite_weights(ckpt, WEIGHT_EDITS[edit])
    with pytest.raises(CheckpointError, match=r"policy\.safetensors"):
        load_policy(run)


@pytest.mark.parametrize("edit", sorted(STAT_EDITS))
def test_bad_normalisation_and_shapes_refused(trained, tmp_path, edit):
    run, ckpt = _copy(trained, tmp_path)
    _rewrite_config(ckpt, STAT_EDITS[edit])
    with pytest.raises(CheckpointError, match="policy"):
        load_policy(run)


def test_any_change_after_writing_breaks_the_checksum(trained, tmp_path):
    run, ckpt = _copy(trained, tmp_path)
    load_policy(run)  # the untouched copy loads
    doc = json.loads((ckpt / "policy.json").read_text())
    doc["normalization"]["obs_mean"][0] += 0.25  # finite, plausible, and wrong
    (ckpt / "policy.json").write_text(json.dumps(doc, indent=4))
    with pytest.raises(CheckpointError, match="checksum"):
        load_policy(run)
    doc["normalization"]["obs_mean"][0] -= 0.25  # reformatted but identical content: harmless
    (ckpt / "policy.json").write_text(json.dumps(doc))
    load_policy(run)
    _rewrite_weights(ckpt, lambda t: t[_first_weight(t)].view(-1).__setitem__(0, 0.5), rehash=False)
    with pytest.raises(CheckpointError, match="checksum"):
        load_policy(run)


def test_evaluate_run_refuses_a_nan_policy_in_one_line(trained, tmp_path, capsys):
    run, ckpt = _copy(trained, tmp_path)
    _rewrite_config(ckpt, _set_stat("obs_std", 0, float("nan")))
    code = main(["evaluate", "run", "--policy", str(run), "--backend", "sim", "--task", "slide_cabinet",
                 "--no-rewards", "--rollouts", "1", "--out", str(tmp_path / "results")])
    err = capsys.readouterr().err
    assert code != 0 and "0 %" not in err
    assert err.startswith("error:") and "policy.json" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists()


def _state_edit(ckpt, change_doc=None, change_tensors=None):
    doc = json.loads((ckpt / STATE_JSON).read_text())
    tensors = load_file(str(ckpt / STATE_TENSORS))
    if change_doc:
        change_doc(doc)
    if change_tensors:
        change_tensors(tensors)
    (ckpt / STATE_JSON).write_text(json.dumps(doc))
    save_file(tensors, str(ckpt / STATE_TENSORS), metadata={HASH_KEY: content_hash(doc, tensors)})


def _moment(t, key):
    return next(v for k, v in t.items() if k.endswith(key))


RESUME_EDITS = {
    "nan lr": (lambda d: d["param_groups"][0].update(lr=float("nan")), None, "lr"),
    "step 1e12": (lambda d: d.update(step=10**12), None, "step"),
    "step as float": (lambda d: d.update(step=1e12), None, "step"),
    "step not the checkpoint's": (lambda d: d.update(step=59), None, "step"),
    "nan Adam moment": (None, lambda t: _moment(t, "exp_avg").view(-1).__setitem__(0, float("nan")),
                        "exp_avg"),
    "negative second moment": (None, lambda t: _moment(t, "exp_avg_sq").view(-1).__setitem__(0, -1.0),
                               "exp_avg_sq"),
    "nan weights": ("weights", None, "NaN"),
}


@pytest.mark.parametrize("edit", sorted(RESUME_EDITS))
def test_resume_refuses_a_broken_state_before_training(trained, tmp_path, edit):
    cfg, data = trained
    run, ckpt = _copy(trained, tmp_path)
    change_doc, change_tensors, match = RESUME_EDITS[edit]
    if change_doc == "weights":
        _rewrite_weights(ckpt, WEIGHT_EDITS["nan weight"])
    else:
        _state_edit(ckpt, change_doc, change_tensors)
    metrics_before = (run / "metrics.csv").read_text()
    resumed = dataclasses.replace(cfg, run_dir=str(run), steps=120)
    with pytest.raises(CheckpointError, match=match):
        fit(data, resumed, resume=True)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last", "step_00000060"]
    assert (run / "metrics.csv").read_text() == metrics_before  # nothing trained


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(trained, tmp_path):
    """A run whose weights have grown to ~5e5 (still loadable) overflows its loss on the next step:
    training stops with a named error naming the checkpoint it keeps, which still loads and acts."""
    cfg, data = trained
    run, ckpt = _copy(trained, tmp_path)

    def grown(t):
        for v in t.values():
            v.fill_(5e5)

    _rewrite_weights(ckpt, grown)
    with pytest.raises(NonFiniteLossError, match=r"the training loss is (inf|nan)") as err:
        fit(data, dataclasses.replace(cfg, run_dir=str(run), steps=120, save_every=1), resume=True)
    assert "step_00000060" in str(err.value)
    assert (run / "checkpoints" / "last").read_text().strip() == "step_00000060"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last", "step_00000060"]
    policy = load_policy(run)  # the kept checkpoint loads
    assert policy.act(np.zeros(8, np.float32), np.zeros(8, np.float32)).shape == (7,)
