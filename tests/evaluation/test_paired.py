"""Paired evaluation sessions on the fake hardware (operator prompts, photos, randomised order,
resume) and in the simulator (the same reset seed for every policy, through the CLI)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.runtime.conftest import ScriptedPolicy, TinyEncoder
from vipflow.evaluation.backend import HardwareBackend
from vipflow.evaluation.ledger import Ledger, LedgerError
from vipflow.evaluation.operator import ConsoleOperator
from vipflow.evaluation.paired import PairedSession, load_session, session_ledgers, trial_orders
from vipflow.evaluation.session import EvaluationConfig, EvaluationSession
from vipflow.evaluation.table import comparison_table
from vipflow.hardware.fake import FakeCamera, FakeRobot, ManualClock

FORWARD = [0.002, 0.0, 0.0, 0.0, 0.0, 0.0, 0.05]
BACK = [-0.002, 0.0, 0.0, 0.0, 0.0, 0.0, 0.05]


class Prompts:
    """A scripted console: answers in order, and keeps every prompt the operator saw."""

    def __init__(self, answers):
        self.answers = iter(answers)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return next(self.answers)


def fake_backend():
    clock = ManualClock()
    return HardwareBackend(FakeCamera(clock, height=32, width=32), FakeRobot(clock), clock, name="fake",
                           perception="inline")


def paired(out, backend, operator, trials=3, order="random", resume=False, seed=6):
    encoder = TinyEncoder()  # one encoder object: one perception shared by both policies
    arms = [
        EvaluationSession(
            backend, encoder, ScriptedPolicy([step]),
            EvaluationConfig(out / name, name, "push_bottle", rollouts=trials, horizon=5, seed=seed),
            operator,
        )
        for name, step in (("VIP-RWR", FORWARD), ("VIP-BC", BACK))
    ]
    return PairedSession(arms, operator, out, order=order, resume=resume)


def answers_for(verdicts):
    """Console answers for trials of two policies: Enter to set up / restore, then the verdict."""
    return [a for v in verdicts for a in ("", v)]


def test_robot_trials_share_one_photographed_start_in_a_recorded_random_order(tmp_path):
    out = tmp_path / "paired"
    # trial t: first policy run (whichever the order says) then the second
    console = Prompts(answers_for(["s", "f", "s", "s", "f", "f"]))
    ledgers = paired(out, fake_backend(), ConsoleOperator(ask=console)).run()

    record = load_session(out)
    assert [t["trial"] for t in record["trials"]] == [0, 1, 2]
    orders = [t["order"] for t in record["trials"]]
    assert orders == [[["VIP-RWR", "VIP-BC"][k] for k in o] for o in trial_orders(2, 3, "random", 6)]
    assert len({tuple(o) for o in orders}) == 2  # seed 6 puts either policy first in some trial
    # the operator set up each trial once and restored it once; never told which policy runs
    setups = [p for p in console.prompts if "Reset the scene" in p]
    restores = [p for p in console.prompts if "Put the scene and the arm back" in p]
    assert len(setups) == 3 and len(restores) == 3
    assert all("VIP" not in p for p in console.prompts)
    for t, trial in enumerate(record["trials"]):
        photo = out / trial["photo"]
        assert photo.name == f"trial_{t:03d}.png" and str(photo) in restores[t]
        assert np.asarray(Image.open(photo)).shape == (32, 32, 3)
        assert trial["start"] == {"session": record["session"], "photo": trial["photo"]}
        verdicts = ["s", "f", "s", "s", "f", "f"][2 * t:2 * t + 2]
        first, second = trial["order"]
        assert trial["outcomes"] == {first: verdicts[0] == "s", second: verdicts[1] == "s"}

    # one ordinary ledger per policy, every rollout keyed by its trial and start
    for name, ledger in ledgers.items():
        assert Ledger.load(out / name).rollouts == ledger.rollouts
        assert [r.trial for r in ledger.rollouts] == [0, 1, 2]
        assert [r.order for r in ledger.rollouts] == [t["order"].index(name) for t in record["trials"]]
        assert all(r.start["session"] == record["session"] for r in ledger.rollouts)
    # the table pairs them by (session, trial): 3 pairs, discordant in trial 0 only
    table = comparison_table(session_ledgers(out))
    (diff,) = table.paired
    assert diff.pairs == 3 and diff.a_only + diff.b_only == 1 and diff.p_value == 1.0


def test_fixed_order_and_refusals(tmp_path):
    console = Prompts(answers_for(["s", "f"] * 2))
    paired(tmp_path / "p", fake_backend(), ConsoleOperator(ask=console), trials=2, order="fixed").run()
    assert [t["order"] for t in load_session(tmp_path / "p")["trials"]] == [["VIP-RWR", "VIP-BC"]] * 2
    with pytest.raises(FileExistsError, match="never overwritten"):
        paired(tmp_path / "p", fake_backend(), ConsoleOperator(ask=console), trials=2, order="fixed").run()
    with pytest.raises(LedgerError, match="cannot resume"):  # another plan than the saved one
        paired(tmp_path / "p", fake_backend(), ConsoleOperator(ask=console), trials=3, resume=True).run()
    with pytest.raises(LedgerError, match="nothing to resume"):
        paired(tmp_path / "new", fake_backend(), ConsoleOperator(ask=console), resume=True).run()
    backend = fake_backend()
    arm = EvaluationSession(backend, TinyEncoder(), ScriptedPolicy([FORWARD]),
                            EvaluationConfig(tmp_path / "x" / "A", "A", "t", rollouts=1), ConsoleOperator())
    with pytest.raises(ValueError, match="names must differ"):
        PairedSession([arm, arm], ConsoleOperator(), tmp_path / "x")
    with pytest.raises(ValueError, match="inside the session folder"):
        PairedSession([arm], ConsoleOperator(), tmp_path / "elsewhere")


def test_quit_mid_trial_then_resume_finishes_that_trial_from_the_same_start(tmp_path):
    out = tmp_path / "paired"
    # trial 0 complete, trial 1: first policy judged, then the operator quits at the restore prompt
    console = Prompts(answers_for(["s", "f", "s"]) + ["q"])
    paired(out, fake_backend(), ConsoleOperator(ask=console), trials=2, order="fixed").run()
    record = load_session(out)
    assert record["trials"][1]["outcomes"] == {"VIP-RWR": True}
    assert [len(Ledger.load(out / n).rollouts) for n in ("VIP-RWR", "VIP-BC")] == [2, 1]

    console = Prompts(["", "f"])  # restore trial 1 for VIP-BC, judge it
    ledgers = paired(out, fake_backend(), ConsoleOperator(ask=console), trials=2, order="fixed",
                     resume=True).run()
    assert len(console.prompts) == 2 and "Put the scene and the arm back" in console.prompts[0]
    assert str(out / "trials" / "trial_001.png") in console.prompts[0]
    resumed = load_session(out)
    assert resumed["session"] == record["session"]
    assert resumed["trials"][1]["outcomes"] == {"VIP-RWR": True, "VIP-BC": False}
    assert [r.trial for r in ledgers["VIP-BC"].rollouts] == [0, 1]
    assert ledgers["VIP-BC"].config["earlier_parts"]  # the first part's timing and safety reports kept
    assert json.loads((out / "VIP-BC" / "ledger.json").read_text())["summary"]["n"] == 2


@pytest.mark.slow
def test_sim_paired_session_via_the_cli(tmp_path, capsys):
    pytest.importorskip("vipflow.sim")  # configures headless GL before mujoco loads
    import cv2

    from vipflow.cli.main import main
    from vipflow.encoders import load_encoder, save_encoder
    from vipflow.policy.untrained import untrained_policy

    with pytest.warns(UserWarning, match="random weights"):
        encoder = load_encoder("vip", arch="convnet-small", random_init=True)
    weights = save_encoder(encoder, tmp_path / "kitchen.safetensors")
    for name, seed in (("a", 0), ("b", 1)):
        untrained_policy(encoder, tmp_path / name, seed=seed)
    goal = tmp_path / "goal.png"
    cv2.imwrite(str(goal), np.full((64, 64, 3), 128, np.uint8))
    out = tmp_path / "paired"
    code = main([
        "evaluate", "paired", "--policy", str(tmp_path / "a"), "--name", "A", "--policy", str(tmp_path / "b"),
        "--name", "B", "--backend", "sim", "--task", "slide_cabinet", "--rollouts", "2", "--horizon", "4",
        "--seed", "3", "--image-size", "64", "--encoder-weights", str(weights), "--goal-image", str(goal),
        "--out", str(out), "--rt-priority", "0",
    ])
    assert code == 0
    record = load_session(out)
    assert all(t["photo"] is None for t in record["trials"])  # the reset seed identifies the start
    a, b = (Ledger.load(out / n) for n in ("A", "B"))
    assert [r.start["reset_seed"] for r in a.rollouts] == [3000, 3001]
    assert [r.start["reset_seed"] for r in b.rollouts] == [3000, 3001]
    assert "| slide_cabinet | A − B | 2 |" in capsys.readouterr().out
    assert main(["evaluate", "table", str(out), "--baseline", "B", "--out", str(tmp_path / "t")]) == 0
    md = (tmp_path / "t" / "table.md").read_text()  # --out names the table folder
    assert "| slide_cabinet | A − B | 2 |" in md and "McNemar" in md
    assert main(["evaluate", "table", str(out), "--baseline", "C", "--out", str(tmp_path / "t2")]) == 2


def test_paired_dry_run_on_the_fake_backend_via_the_cli(tmp_path, monkeypatch, capsys):
    import io

    from vipflow.cli.main import main
    from vipflow.encoders import load_encoder, save_encoder
    from vipflow.policy.untrained import untrained_policy

    with pytest.warns(UserWarning, match="random weights"):
        encoder = load_encoder("vip", arch="convnet-small", random_init=True)
    weights = save_encoder(encoder, tmp_path / "enc.safetensors")
    for name, seed in (("a", 0), ("b", 1)):
        untrained_policy(encoder, tmp_path / name, seed=seed)
    # the operator: Enter (trial set up), s, Enter (scene restored), f
    monkeypatch.setattr("sys.stdin", io.StringIO("\ns\n\nf\n"))
    out = tmp_path / "paired"
    code = main(["evaluate", "paired", "--policy", str(tmp_path / "a"), "--policy", str(tmp_path / "b"),
                 "--backend", "fake", "--task", "t", "--rollouts", "1", "--horizon", "5", "--no-rewards",
                 "--perception", "thread", "--encoder-weights", str(weights), "--out", str(out),
                 "--rt-priority", "0", "--order", "fixed"])
    assert code == 0, capsys.readouterr().err
    (trial,) = load_session(out)["trials"]
    assert trial["order"] == ["a", "b"] and trial["outcomes"] == {"a": True, "b": False}
    assert (out / trial["photo"]).is_file()
    assert "| t | a − b | 1 | 1 / 0 | +100 | 1 |" in capsys.readouterr().out
