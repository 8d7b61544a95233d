"""Issue 17.4, 17.6, 17.1 (progress) and 17.2 (commands from configs), without the simulator.

One overwrite/resume rule: every command that writes a folder refuses a non-empty one unless
``--resume`` or ``--overwrite`` (declared once, ``vipflow.outputs.add_output_mode``); ``--overwrite``
only ever deletes a folder of its own kind. Timing reports name their clock. Progress off a
terminal is a line per 10 %. ``command_args`` renders a config into options that parse back to it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from vipflow.cli.main import build_parser, main
from vipflow.cli.options import command_args
from vipflow.cli.train import build_train_parser, config_from_args
from vipflow.evaluation.ledger import Ledger, RolloutOutcome
from vipflow.evaluation.session import EvaluationConfig
from vipflow.hardware import MonotonicClock
from vipflow.hardware.fake import ManualClock
from vipflow.outputs import OVERWRITE_HELP, OutputPathError, prepare_output_dir
from vipflow.policy.train_config import TrainConfig
from vipflow.policy.weights import WeightingConfig
from vipflow.progress import inside_stage, progress
from vipflow.runtime.timing import TimingSamples, clock_kind

RESUMABLE = {"demo", "train", "train-encoder", "evaluate run"}
ONE_PASS = {"rewards"}


def _subparser(parser: argparse.ArgumentParser, path: str) -> argparse.ArgumentParser:
    for name in path.split():
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


@pytest.mark.parametrize("command", sorted(RESUMABLE | ONE_PASS))
def test_each_folder_writing_command_has_the_shared_flags(command):
    parser = _subparser(build_parser(), command)
    actions = {s: a for a in parser._actions for s in a.option_strings}
    assert OVERWRITE_HELP in actions["--overwrite"].help  # the one declaration
    assert ("--resume" in actions) == (command in RESUMABLE)


def test_the_rule(tmp_path):
    out = tmp_path / "out"
    assert prepare_output_dir(out, marker="ledger.json", what="evaluation") is False  # absent
    out.mkdir()
    assert prepare_output_dir(out, marker="ledger.json", what="evaluation") is False  # empty
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(OutputPathError, match=r"--resume .* --overwrite"):
        prepare_output_dir(out, marker="ledger.json", what="evaluation")
    with pytest.raises(OutputPathError, match="will not delete it"):  # not an evaluation: never deleted
        prepare_output_dir(out, overwrite=True, marker="ledger.json", what="evaluation")
    with pytest.raises(OutputPathError, match="nothing to resume"):
        prepare_output_dir(out, resume=True, marker="ledger.json", what="evaluation")
    assert (out / "notes.txt").read_text() == "keep me"
    (out / "ledger.json").write_text("{}")
    assert prepare_output_dir(out, resume=True, marker="ledger.json", what="evaluation") is True
    assert prepare_output_dir(out, overwrite=True, marker="ledger.json", what="evaluation") is False
    assert not out.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--out", "{out}", "--no-progress"],
        ["train", "{data}", "--out", "{out}"],
        ["train-encoder", "{data}", "--out", "{out}"],
        ["evaluate", "run", "--policy", "{data}", "--task", "t", "--backend", "sim", "--out", "{out}"],
        ["rewards", "{data}/x.mp4", "--out", "{out}"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_each_command_refuses_a_non_empty_folder_and_overwrites_only_its_own(tmp_path, capsys, argv):
    out, data = tmp_path / "out", tmp_path / "data"
    out.mkdir()
    data.mkdir()
    (out / "old.txt").write_text("keep me")
    argv = [a.format(out=out, data=data) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "--overwrite" in err and str(out) in err
    assert ("--resume" in err) == (argv[0] != "rewards")  # offered only where it exists
    assert main([*argv, "--overwrite"]) == 2  # the folder is not this command's output
    assert "will not delete it" in capsys.readouterr().err
    assert (out / "old.txt").read_text() == "keep me"


def test_train_resume_names_its_folder_either_way(tmp_path):
    run = tmp_path / "run"
    for argv in (["--resume", str(run)], ["--out", str(run), "--resume"]):
        with pytest.raises(Exception, match="not a run directory"):
            config_from_args(build_train_parser().parse_args(argv))


def test_command_args_parse_back_to_the_same_config(tmp_path):
    cfg = TrainConfig(
        datasets=(str(tmp_path / "demos"),), run_dir=str(tmp_path / "run"),
        encoder_weights=str(tmp_path / "w"),
        cache_dir="cache", labels=("success",), proprio=("ee_pose",), hidden_sizes=(64, 32), lr=1e-05,
        weighting=WeightingConfig(method="awr", temperature=5.0, clip=None, normalize=False), seed=3,
        num_threads=None, steps=100, progress=False,
    )
    argv = command_args(TrainConfig, cfg, skip=("progress",))
    assert "--progress" not in argv and "--no-weight-norm" in argv and "1.0e-05" in argv
    parsed, resume = config_from_args(build_train_parser().parse_args([*argv, "--no-progress"]))
    assert parsed == cfg and not resume
    session = EvaluationConfig(Path("o"), "P", "t", policy_path="elsewhere")
    with pytest.raises(ValueError, match="policy_path = 'elsewhere' has no command-line option"):
        command_args(EvaluationConfig, session)  # a command could not reproduce it: never printed


def _ledger(tmp_path: Path, clock: str) -> Path:
    timing = TimingSamples(period_ms=40.0, periods=[40.0] * 3, encoder_latency=[7.0] * 3, ticks=3,
                           clock=clock)
    rollouts = [RolloutOutcome(0, True, "sim", 3, "completed", None)]
    ledger = Ledger({"name": "P"}, "t", 0, {"name": "sim"}, {}, rollouts, timing=timing.report())
    return ledger.save(tmp_path / clock / "ledger.json")


def test_evaluate_show_names_the_clock_it_measured(tmp_path, capsys):
    assert clock_kind(MonotonicClock()) == "monotonic" and clock_kind(ManualClock()) == "simulated"
    assert main(["evaluate", "show", str(_ledger(tmp_path, "simulated"))]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "loop timing" in x)
    assert "simulated clock (simulation time, not a real-time measurement)" in line
    assert "encoder compute p50 7.0 ms (monotonic clock)" in line
    assert main(["evaluate", "show", str(_ledger(tmp_path, "monotonic"))]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "loop timing" in x)
    assert "monotonic clock (measured in real time)" in line and "simulated" not in line


def test_progress_off_a_terminal_is_a_line_per_ten_percent(capsys):
    assert list(progress(range(1000), "steps", enabled=False)) == list(range(1000))
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 10 and lines[-1].startswith("steps: 1000/1000 it (100 %")
    with inside_stage():  # a workflow printing its own stage lines
        list(progress(range(1000), "steps", enabled=False))
    assert capsys.readouterr().err == ""
