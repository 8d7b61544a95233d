"""Issue 17 acceptance: one CLI vocabulary. Every subcommand's options are collected from the real
parser and checked: one output flag name, one weights flag name, one arch flag name, one progress
switch on every long command, repeatable goal images, every default shown in --help; the old
spellings still parse for one release, with a warning naming the new one."""

from __future__ import annotations

import argparse

import pytest

from vipflow.cli.main import build_parser

OUTPUT = {"-o", "--output", "--out-dir", "--dir", "--out"}
LONG_COMMANDS = {"train", "train-encoder", "demo", "rewards", "evaluate run", "evaluate paired"}
# Not outputs: `weights list --dir` names where to look; `evaluate table --out` is a file prefix
# (kept: its test pins OUT.md / OUT.png); episode sheets/mp4s and weight exports are single files.
NOT_AN_OUTPUT_FOLDER = {("weights list", "--dir")}


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = f"{prefix} {name}".strip()
                inner = _commands(sub, path)
                out.update(inner or {path: sub})
    return out


COMMANDS = _commands(build_parser())


def _options(parser: argparse.ArgumentParser) -> list[tuple[argparse.Action, tuple[str, ...]]]:
    """(action, its current spellings) of every visible option; deprecated aliases are hidden actions."""
    return [
        (a, tuple(a.option_strings))
        for a in parser._actions
        if a.option_strings and a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)
    ]


def test_the_commands_are_all_collected():
    assert {"train", "train-encoder", "demo", "rewards", "record", "evaluate run", "evaluate table",
            "episodes list", "weights download"} <= set(COMMANDS)  # fmt: skip


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_one_vocabulary(command):
    parser = COMMANDS[command]
    spellings = {s for _, strings in _options(parser) for s in strings}
    outputs = {s for s in spellings & OUTPUT if (command, s) not in NOT_AN_OUTPUT_FOLDER}
    assert outputs <= {"--out"}, f"{command}: output flags {outputs}"
    weights = {s for s in spellings if "weights" in s}
    assert weights <= {"--encoder-weights"}, f"{command}: weights flags {weights}"
    arch = {s for s in spellings if s.endswith("arch")}
    assert arch <= {"--encoder-arch"}, f"{command}: arch flags {arch}"
    assert "--goal-last-k" not in spellings, f"{command}: --goal-last-frames is the name"
    if "--batch-size" in spellings:  # the training batch; an encoder's batch is --encode-batch-size
        assert command in ("train", "train-encoder"), f"{command}: --batch-size"
    progress = {s for s in spellings if "progress" in s}
    expected = {"--progress", "--no-progress"} if command in LONG_COMMANDS else set()
    assert progress == expected, f"{command}: progress switch {progress}"
    for action, strings in _options(parser):
        if "--goal-image" in strings:
            assert isinstance(action, argparse._AppendAction), f"{command}: --goal-image must be repeatable"
        text = action.help or ""
        assert "(default: " in text or "(required)" in text, f"{command}: {strings} hides its default"


@pytest.mark.parametrize(
    ("argv", "dest", "value", "old"),
    [
        (["train", "-o", "r"], "run_dir", "r", "-o"),
        (["train-encoder", "v", "--out-dir", "r"], "out_dir", "r", "--out-dir"),
        (["train-encoder", "v", "--init-weights", "w.pt"], "init_weights", "w.pt", "--init-weights"),
        (["train-encoder", "v", "--arch", "resnet18"], "arch", "resnet18", "--arch"),
        (["evaluate", "run", "--policy", "p", "--output", "o"], "output_dir", "o", "--output"),
        (["rewards", "x.mp4", "--weights", "w.pt"], "encoder_weights", "w.pt", "--weights"),
        (["rewards", "x.mp4", "--arch", "resnet18"], "encoder_arch", "resnet18", "--arch"),
        (["rewards", "x.mp4", "--goal-last-k", "3"], "goal_last_frames", 3, "--goal-last-k"),
        (["rewards", "x.mp4", "--batch-size", "8"], "encode_batch_size", 8, "--batch-size"),
        (["weights", "download", "vip", "--dir", "w"], "out", "w", "--dir"),
        (["weights", "export", "vip", "a.pt", "b.safetensors", "--arch", "resnet18"], "encoder_arch",
         "resnet18", "--arch"),
    ],
)
def test_old_spellings_parse_with_a_warning(argv, dest, value, old, capsys):
    args = build_parser().parse_args(argv)
    assert str(getattr(args, dest)) == str(value)
    assert f"warning: {old} is deprecated" in capsys.readouterr().err


def test_new_spellings_parse_silently(capsys):
    argv = ["rewards", "x.mp4", "--encoder-weights", "w.pt", "--goal-image", "a.png", "--goal-image", "b.png",
            "--goal-last-frames", "2", "--no-progress"]  # fmt: skip
    args = build_parser().parse_args(argv)
    assert [str(p) for p in args.goal_image] == ["a.png", "b.png"] and args.progress is False
    assert capsys.readouterr().err == ""
