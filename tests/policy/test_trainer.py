"""Training loop on in-memory data: RWR vs BC direction, exact resume, reproducibility, run files."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from safetensors.torch import load_file

from vipflow.policy import ResumeMismatchError, load_policy
from vipflow.policy.goals import demo_goals
from vipflow.policy.policy_config import EncoderRef
from vipflow.policy.trainer import fit
from vipflow.policy.training_set import prepare
from vipflow.policy.weights import WeightingConfig

ENC = EncoderRef("vip", "synthetic", "synthetic-encoder", 8, "l2")


def _fit(episodes, cfg, **kw):
    data = prepare(episodes, demo_goals(episodes), ENC, cfg)
    return data, fit(data, cfg, **kw)


def _weights(result) -> dict:
    return load_file(str(result.checkpoint / "policy.safetensors"))


def _mean_dx(policy, synthetic) -> np.ndarray:
    p = np.linspace(0.15, 0.85, 15)
    return policy.act(synthetic.embedding(p), synthetic.proprio(p))[:, 0]


def test_rwr_and_iql_move_toward_progress_and_bc_does_not(synthetic, small_config, tmp_path):
    episodes = synthetic.episodes(pairs=6)
    dx = {}
    weightings = {
        "rwr": WeightingConfig(method="rwr", temperature=5.0),
        "iql": WeightingConfig(method="iql", value_steps=600),  # default expectile and beta
        "bc": WeightingConfig(method="bc"),
    }
    for method, weighting in weightings.items():
        cfg = small_config(
            run_dir=str(tmp_path / method),
            steps=1500,
            save_every=1500,
            eval_every=500,
            val_fraction=0.0,
            weighting=weighting,
        )
        data, result = _fit(episodes, cfg)
        if method != "bc":
            assert data.weight_stats.max / data.weight_stats.min > 5  # progress transitions dominate
        policy = load_policy(result.run_dir)
        assert policy.config.method == method
        dx[method] = _mean_dx(policy, synthetic)
    # RWR and IQL: forward (positive dx) at every probed state, most of the demonstrated step size
    for method in ("rwr", "iql"):
        assert (dx[method] > 0).all(), method
        assert dx[method].mean() > 0.5 * synthetic.dx, method
        assert dx[method].mean() > 3 * abs(dx["bc"].mean()), method
    # BC averages +dx and -dx: no consistent direction, far below the step size
    assert abs(dx["bc"].mean()) < 0.25 * synthetic.dx


def test_gaussian_head_trains_and_acts_with_its_mean(synthetic, small_config):
    cfg = small_config(head="gaussian", weighting=WeightingConfig(temperature=5.0))
    _, result = _fit(synthetic.episodes(pairs=3), cfg)
    policy = load_policy(result.run_dir)
    assert policy.config.head == "gaussian"
    assert np.isfinite(_mean_dx(policy, synthetic)).all()


def test_resume_reproduces_the_uninterrupted_run_exactly(synthetic, small_config, tmp_path):
    episodes = synthetic.episodes(pairs=3)
    _, full = _fit(episodes, small_config(run_dir=str(tmp_path / "full")))
    assert full.step == 300 and not full.interrupted

    # Ctrl-C-like stop at step 137: checkpoint written at 137, then resumed
    cfg = small_config(run_dir=str(tmp_path / "stopped"))
    _, part = _fit(episodes, cfg, on_step=lambda step, loss: step == 137)
    assert part.interrupted and part.step == 137 and part.checkpoint.name == "step_00000137"
    _, resumed = _fit(episodes, cfg, resume=True)
    assert resumed.step == 300

    # crash at step 150 (no checkpoint), resumed from the periodic checkpoint at 100
    cfg = small_config(run_dir=str(tmp_path / "crashed"))

    def crash(step, loss):
        if step == 150:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        _fit(episodes, cfg, on_step=crash)
    assert (tmp_path / "crashed/checkpoints/last").read_text().strip() == "step_00000100"
    _, recovered = _fit(episodes, cfg, resume=True)

    reference = _weights(full)
    for other in (resumed, recovered):
        got = _weights(other)
        assert got.keys() == reference.keys()
        for k in reference:
            assert np.array_equal(got[k].numpy(), reference[k].numpy()), k
    # the log of the crashed run holds each step once, in order, up to 300
    with open(tmp_path / "crashed/metrics.csv") as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == sorted(set(steps)) and steps[-1] == 300


def test_iql_resume_reproduces_the_uninterrupted_run_exactly(synthetic, small_config, tmp_path):
    """The critics are refitted on resume (same seed, same data): the data hash and the final
    weights match the uninterrupted run."""
    episodes = synthetic.episodes(pairs=2)
    iql = WeightingConfig(method="iql", value_steps=200)
    data, full = _fit(episodes, small_config(run_dir=str(tmp_path / "full"), steps=200, weighting=iql))
    cfg = small_config(run_dir=str(tmp_path / "stopped"), steps=200, weighting=iql)
    stopped, part = _fit(episodes, cfg, on_step=lambda step, loss: step == 77)
    assert part.interrupted and stopped.data_hash == data.data_hash
    _, resumed = _fit(episodes, cfg, resume=True)
    reference, got = _weights(full), _weights(resumed)
    assert all(np.array_equal(got[k].numpy(), reference[k].numpy()) for k in reference)


def test_same_seed_same_weights_other_seed_differs(synthetic, small_config, tmp_path):
    episodes = synthetic.episodes(pairs=2)
    runs = [
        _fit(episodes, small_config(run_dir=str(tmp_path / f"r{i}"), steps=50, seed=s))[1]
        for i, s in enumerate((7, 7, 8))
    ]
    a, b, c = (_weights(r) for r in runs)
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    assert not all(np.array_equal(a[k].numpy(), c[k].numpy()) for k in a)


def test_run_directory_contents_and_resume_checks(synthetic, small_config, tmp_path):
    episodes = synthetic.episodes(pairs=3)
    cfg = small_config()
    data, result = _fit(episodes, cfg)
    run = result.run_dir
    saved = json.loads((run / "config.json").read_text())
    assert saved["train"]["steps"] == 300 and saved["resolved"]["data_hash"] == data.data_hash
    splits = [e["split"] for e in saved["resolved"]["episodes"]]
    assert splits.count("val") == 1 and len(splits) == 6  # 20% of 6 episodes, whole episodes
    assert saved["resolved"]["weight_stats"]["ess"] > 0
    assert (run / "training_curve.png").stat().st_size > 1000
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "last",
        "step_00000100",
        "step_00000200",
        "step_00000300",
    ]
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["val_loss"] != "" for r in rows].count(True) == 6  # every 50 steps
    assert float(rows[-1]["val_mse"]) >= 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["step"] == 300 and not summary["interrupted"]

    with pytest.raises(ResumeMismatchError, match="already holds a run"):
        _fit(episodes, cfg)
    with pytest.raises(ResumeMismatchError, match="lr"):
        _fit(episodes, small_config(lr=3e-4), resume=True)
    with pytest.raises(ResumeMismatchError, match="training data differ"):
        _fit(synthetic.episodes(pairs=3), cfg, resume=True)  # fresh noise: other data
    # extending the run is allowed
    _, longer = _fit(episodes, small_config(steps=350), resume=True)
    assert longer.step == 350
    assert json.loads((run / "config.json").read_text())["train"]["steps"] == 350
