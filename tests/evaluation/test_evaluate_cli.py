"""`vipflow evaluate` end to end on the real simulator with a real (untrained) policy checkpoint
and a real encoder export: rollouts -> episodes -> ledgers -> comparison table (md + PNG)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from vipflow.cli.main import main
from vipflow.encoders import load_encoder, save_encoder
from vipflow.episodes import read_episode
from vipflow.evaluation.ledger import Ledger
from vipflow.policy.untrained import untrained_policy

pytest.importorskip("vipflow.sim")  # configures headless GL before mujoco loads
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    with pytest.warns(UserWarning, match="random weights"):
        encoder = load_encoder("vip", arch="convnet-small", random_init=True)
    weights = save_encoder(encoder, root / "kitchen.safetensors")
    policy_dir = root / "slide_rwr"
    untrained_policy(encoder, policy_dir)
    goal = root / "goal.png"
    cv2.imwrite(str(goal), np.full((64, 64, 3), 128, np.uint8))
    return root, weights, policy_dir, goal


def run_eval(root, weights, policy_dir, goal, name, seed):
    out = root / "results" / name / f"seed{seed}"
    if (out / "ledger.json").exists():  # evaluated by an earlier test of this module
        return out
    code = main([
        "evaluate", "run", "--policy", str(policy_dir), "--name", name, "--backend", "sim",
        "--task", "slide_cabinet", "--rollouts", "2", "--horizon", "6", "--seed", str(seed),
        "--image-size", "64", "--encoder-weights", str(weights), "--goal-image", str(goal),
        "--output", str(out), "--rt-priority", "0",
    ])
    assert code == 0
    return out


def test_sim_evaluation_writes_episodes_and_a_ledger(trained, capsys):
    root, weights, policy_dir, goal = trained
    out = run_eval(root, weights, policy_dir, goal, "VIP-RWR", 0)
    ledger = Ledger.load(out)
    assert [r.judged_by for r in ledger.rollouts] == ["sim", "sim"]
    assert all(r.steps == 6 and r.stop_reason == "completed" for r in ledger.rollouts)
    assert ledger.summary()["n"] == 2 and ledger.backend["task"] == "slide_cabinet"
    assert ledger.timing["loop_period_ms"]["p50"] == pytest.approx(40.0)  # physics clock: exact
    assert ledger.timing["deadline_misses"] == 0
    assert ledger.timing["encoder_latency_ms"]["p50"] > 0  # compute time is wall time, even in sim
    assert ledger.policy["encoder"]["fingerprint"]
    ep = read_episode(out / ledger.rollouts[0].episode)
    grid = ep.on_grid(25.0)
    assert grid.frames.shape[1:] == (64, 64, 3) and grid.actions is not None and grid.rewards is not None
    assert ep.meta.label in ("success", "failure") and ep.meta.extra["stop_reason"] == "completed"
    assert "VIP-RWR on slide_cabinet" in capsys.readouterr().out

    assert main(["evaluate", "show", str(out), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["summary"]["n"] == 2


def test_table_across_policies_and_seeds(trained, capsys, tmp_path):
    root, weights, policy_dir, goal = trained
    ledgers = [run_eval(root, weights, policy_dir, goal, name, seed)
               for name, seed in (("BC", 0), ("BC", 1), ("VIP-RWR", 0))]
    assert main(["evaluate", "table", *map(str, ledgers), "--out", str(tmp_path / "table")]) == 0
    md = (tmp_path / "table" / "table.md").read_text()  # --out is a folder, the files inside it
    assert md.splitlines()[0] == "| Task | BC | VIP-RWR |"
    assert md.splitlines()[2].startswith("| slide_cabinet |")
    assert (tmp_path / "table" / "table.png").stat().st_size > 1000
    assert (tmp_path / "table" / "bars.png").stat().st_size > 1000
    assert main(["evaluate", "table", str(ledgers[0]), str(ledgers[0])]) == 2  # same seed twice
    assert "same seed" in capsys.readouterr().err


def test_mismatched_encoder_is_refused(trained, capsys, tmp_path):
    _, _, policy_dir, goal = trained
    with pytest.warns(UserWarning):
        other = save_encoder(load_encoder("vip", arch="convnet-small", random_init=True, seed=1),
                             tmp_path / "other.safetensors")
    code = main(["evaluate", "run", "--policy", str(policy_dir), "--backend", "sim",
                 "--task", "slide_cabinet", "--encoder-weights", str(other), "--goal-image", str(goal),
                 "--output", str(tmp_path / "o")])
    assert code == 2 and "fingerprint" in capsys.readouterr().err


def test_sim_evaluation_runs_under_the_simulator_profile(trained):
    root, weights, policy_dir, goal = trained
    ledger = Ledger.load(run_eval(root, weights, policy_dir, goal, "VIP-RWR", 0))
    config = ledger.config
    assert config["limits_profile"] == "sim-kitchen" and config["envelope"]["name"] == "sim-kitchen"
    assert config["limits"]["kinematics"] == "none"
    assert config["limits"]["step"]["max_translation_m"] == 0.01  # --backend sim keeps the given steps
