"""End to end on the real simulator: `vipflow demo` records, scores, trains, evaluates, reports.

A tiny configuration of the README's main command (3 demos, 100 policy steps, 2 rollouts of
20 steps per policy), run through the CLI entry point with the shipped kitchen encoder.
"""

from __future__ import annotations

import json

import pytest

from vipflow.sim import configure_gl

configure_gl()

from vipflow.cli.main import main  # noqa: E402
from vipflow.episodes import list_episodes, read_episode  # noqa: E402
from vipflow.evaluation.ledger import Ledger  # noqa: E402
from vipflow.policy import load_policy  # noqa: E402
from vipflow.sim.encoder import shipped_encoder_path  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_demo_command_runs_the_whole_workflow(tmp_path, capsys):
    assert shipped_encoder_path("slide_cabinet").is_file(), "the kitchen encoder must ship with the package"
    out = tmp_path / "demo"
    code = main([
        "demo", "--task", "slide_cabinet", "--out", str(out), "--experts", "2", "--failures", "1",
        "--steps", "100", "--rollouts", "2", "--horizon", "20", "--seeds", "1", "--no-progress",
    ])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| slide_cabinet |" in printed and "VIP-RWR" in printed and "VIP-BC" in printed
    for stage in range(1, 6):
        assert f"[{stage}/5]" in printed

    demos = list_episodes(out / "demos")
    assert [s.label for s in demos] == ["success", "success", "failure"]
    assert all(s.usable for s in demos)

    for name in ("VIP-RWR", "VIP-BC"):
        ledger = Ledger.load(out / "evaluation" / name / "seed0" / "ledger.json")
        assert ledger.n == 2 and ledger.task == "slide_cabinet"
        assert all(r.judged_by == "sim" and r.steps == 20 for r in ledger.rollouts)
        rollout = read_episode(out / "evaluation" / name / "seed0" / ledger.rollouts[0].episode)
        grid = rollout.on_grid(25.0)
        assert grid.actions is not None and grid.actions.shape[1] == 7  # ee_delta, as commanded
        assert rollout.meta.label in ("success", "failure")

    policy = load_policy(out / "policies" / "rwr" / "seed0")
    assert policy.config.action_space == "ee_delta"

    results = json.loads((out / "results.json").read_text())
    assert set(results["success"]) == {"VIP-RWR", "VIP-BC"}
    assert results["rewards"]["auroc_final_value"] is not None
    report = (out / "report.md").read_text()
    for png in ("reward_curves.png", "training_curves.png", "success_table.png"):
        assert png in report
        assert (out / png).read_bytes()[:8] == PNG_MAGIC

    # Results are never overwritten.
    assert main(["demo", "--out", str(out), "--no-progress"]) == 2


@pytest.mark.parametrize("make_out", ["file", "nonempty_dir"])
def test_demo_refuses_an_output_it_would_damage(tmp_path, capsys, make_out):
    out = tmp_path / "out"
    if make_out == "file":
        out.write_text("keep me")
    else:
        out.mkdir()
        (out / "old_report.md").write_text("keep me")
    assert main(["demo", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and str(out) in err
    assert (out if make_out == "file" else out / "old_report.md").read_text() == "keep me"
