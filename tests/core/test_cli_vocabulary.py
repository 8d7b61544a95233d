"""Issue 17 acceptance: one CLI vocabulary. Every subcommand's options are collected from the real
parsers (the `vipflow` tree and the ROS packages' own CLI, `ros2 run rwr_policy_node train`) and
checked: one output flag name, one weights flag name, one arch flag name, one progress switch pair
on every long command, repeatable goal images, labels and tags that either assign or filter, a
documented --seed, every default shown in --help; the old spellings still parse for one release,
with a warning naming the new one."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pytest

from vipflow.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src" / "rwr_policy_node"))
from rwr_policy_node.train import build_parser as ros_train_parser  # noqa: E402  (a ROS-free module)

ROS_TRAIN = "ros2 run rwr_policy_node train"
OUTPUT = {"-o", "--output", "--out-dir", "--output-dir", "--dir", "--dest", "--out"}
LONG_COMMANDS = {"train", "train-encoder", "demo", "rewards", "evaluate run", "evaluate paired", ROS_TRAIN}
# The justified exceptions to "--out is the only output flag", each with its reason.
NOT_AN_OUTPUT_FOLDER = {("weights list", "--dir"): "an input: the weights folder to look in"}
# Labels and tags: the bare names filter which episodes are used; add-/remove-/set- names assign.
FILTERS = {"--label", "--tag", "--exclude-tag"}
ASSIGNS = {"--add-tag", "--remove-tag", "--set-labels"}
FILTERING_COMMANDS = {"train", "train-encoder", ROS_TRAIN}
CLI_DOC = (ROOT / "docs" / "cli.md").read_text()


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = f"{prefix} {name}".strip()
                inner = _commands(sub, path)
                out.update(inner or {path: sub})
    return out


COMMANDS = _commands(build_parser()) | {ROS_TRAIN: ros_train_parser()}


def _options(parser: argparse.ArgumentParser) -> list[tuple[argparse.Action, tuple[str, ...]]]:
    """(action, its current spellings) of every visible option; deprecated aliases are hidden actions."""
    return [
        (a, tuple(a.option_strings))
        for a in parser._actions
        if a.option_strings and a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)
    ]


def test_the_commands_are_all_collected():
    assert {"train", "train-encoder", "demo", "rewards", "record", "evaluate run", "evaluate table",
            "episodes list", "episodes sheet", "weights download", "task new", ROS_TRAIN} <= set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_one_vocabulary(command):
    parser = COMMANDS[command]
    spellings = {s for _, strings in _options(parser) for s in strings}
    outputs = {s for s in spellings & OUTPUT if (command, s) not in NOT_AN_OUTPUT_FOLDER}
    assert outputs <= {"--out"}, f"{command}: output flags {outputs}"
    positionals = {a.dest for a in parser._actions if not a.option_strings and a.help != argparse.SUPPRESS}
    assert not {"out", "dest", "output"} & positionals, f"{command}: a positional output"
    weights = {s for s in spellings if "weights" in s}
    assert weights <= {"--encoder-weights"}, f"{command}: weights flags {weights}"
    arch = {s for s in spellings if s.endswith("arch")}
    assert arch <= {"--encoder-arch"}, f"{command}: arch flags {arch}"
    assert "--goal-last-k" not in spellings, f"{command}: --goal-last-frames is the name"
    if "--batch-size" in spellings:  # the training batch; an encoder's batch is --encode-batch-size
        assert command in ("train", "train-encoder", ROS_TRAIN), f"{command}: --batch-size"
    progress = {s for s in spellings if "progress" in s}
    expected = {"--progress", "--no-progress"} if command in LONG_COMMANDS else set()
    assert progress == expected, f"{command}: progress switch {progress}"
    marked = {s for s in spellings if re.search(r"(?<![a-z])(label|tag)", s.lstrip("-"))}  # not advantage
    assert marked <= FILTERS | ASSIGNS, f"{command}: label/tag flags {marked - FILTERS - ASSIGNS}"
    if marked & FILTERS:
        assert command in FILTERING_COMMANDS, f"{command}: {marked & FILTERS} filter, but nothing is selected"
    if "--seed" in spellings:
        row = f"| `{command.removeprefix('ros2 run rwr_policy_node ')}` |"
        assert row in CLI_DOC.split("## --seed")[1], f"{command}: --seed's meaning is not in docs/cli.md"
    assert "--data-root" in spellings or command == ROS_TRAIN, f"{command}: no --data-root"
    for action, strings in _options(parser):
        if "--goal-image" in strings:
            assert isinstance(action, argparse._AppendAction), f"{command}: --goal-image must be repeatable"
        if "--progress" in strings:
            assert "on when stdout is a terminal" in action.help, f"{command}: progress is not auto-off"
        text = action.help or ""
        assert "(default: " in text or "(required)" in text, f"{command}: {strings} hides its default"


@pytest.mark.parametrize(
    ("argv", "dest", "value", "old"),
    [
        (["train", "-o", "r"], "run_dir", "r", "-o"),
        (["train-encoder", "v", "--out-dir", "r"], "out_dir", "r", "--out-dir"),
        (["train-encoder", "v", "--init-weights", "w.pt"], "init_weights", "w.pt", "--init-weights"),
        (["train-encoder", "v", "--arch", "resnet18"], "arch", "resnet18", "--arch"),
        (["train-encoder", "v", "--episode-labels", "success"], "episode_labels", "['success']",
         "--episode-labels"),
        (["evaluate", "run", "--policy", "p", "--output", "o"], "output_dir", "o", "--output"),
        (["rewards", "x.mp4", "--weights", "w.pt"], "encoder_weights", "w.pt", "--weights"),
        (["rewards", "x.mp4", "--arch", "resnet18"], "encoder_arch", "resnet18", "--arch"),
        (["rewards", "x.mp4", "--goal-last-k", "3"], "goal_last_frames", 3, "--goal-last-k"),
        (["rewards", "x.mp4", "--batch-size", "8"], "encode_batch_size", 8, "--batch-size"),
        (["rewards", "x.mp4", "--labels", "success"], "labels", "['success']", "--labels"),
        (["record", "--dataset", "d", "--task", "t", "--tag", "a"], "tags", "['a']", "--tag"),
        (["episodes", "relabel", "e", "--tag", "a"], "tag", "['a']", "--tag"),
        (["episodes", "relabel", "e", "--untag", "a"], "untag", "['a']", "--untag"),
        (["weights", "download", "vip", "--dir", "w"], "out", "w", "--dir"),
        (["weights", "export", "vip", "a.pt", "--arch", "resnet18"], "encoder_arch", "resnet18", "--arch"),
        (["weights", "export", "vip", "a.pt", "b.safetensors"], "dest", "b.safetensors", "positional DEST"),
        (["episodes", "sheet", "e", "s.png"], "out_file", "s.png", "positional OUT_FILE"),
        (["episodes", "show", "e", "--mp4", "e.mp4"], "mp4", "e.mp4", "--mp4 PATH"),
    ],
)
def test_old_spellings_parse_with_a_warning(argv, dest, value, old, capsys):
    args = build_parser().parse_args(argv)
    assert str(getattr(args, dest)) == str(value)
    assert f"warning: {old} is deprecated" in capsys.readouterr().err


def test_new_spellings_parse_silently(capsys):
    argv = ["rewards", "x.mp4", "--encoder-weights", "w.pt", "--goal-image", "a.png", "--goal-image", "b.png",
            "--goal-last-frames", "2", "--no-progress", "--set-labels", "success"]  # fmt: skip
    args = build_parser().parse_args(argv)
    assert [str(p) for p in args.goal_image] == ["a.png", "b.png"] and args.progress is False
    args = build_parser().parse_args(["episodes", "show", "e", "--sheet", "--mp4", "--out", "review"])
    assert args.sheet is True and args.mp4 is True and str(args.out) == "review"
    assert capsys.readouterr().err == ""


def test_data_root_is_accepted_before_and_after_the_command():
    for argv in (["--data-root", "/d", "rewards", "x.mp4"], ["rewards", "x.mp4", "--data-root", "/d"]):
        assert str(build_parser().parse_args(argv).data_root) == "/d"
