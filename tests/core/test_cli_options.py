"""Command-line options derive from the config dataclasses: one declaration, defaults shown, old
spellings kept, values resolved defaults < task YAML / saved run < flags, ranges checked at parse."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import pytest

from vipflow.cli.main import build_parser
from vipflow.cli.options import add_options, from_args, given
from vipflow.config_schema import REQUIRED, ConfigError, option, resolve, resume_differences, to_json
from vipflow.policy.train_config import TrainConfig

DERIVED = (("train",), ("train-encoder",), ("record",), ("evaluate", "run"), ("demo",))


def _subparser(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


@pytest.mark.parametrize("path", DERIVED, ids=" ".join)
def test_every_option_shows_its_default(path):
    parser = _subparser(path)
    for action in parser._actions:
        if action.option_strings and action.dest != "help" and action.help != argparse.SUPPRESS:
            shown = "(default: " in (action.help or "") or "(required)" in (action.help or "")
            assert shown, f"{path}: {action.option_strings} hides its default"


def test_existing_spellings_still_parse():
    parser = _subparser(("train",))
    args = parser.parse_args([
        "d", "-o", "r", "--temperature", "2", "--no-weight-norm", "--label", "success", "--label", "failure",
        "--hidden", "32,32", "--no-progress", "--threads", "4", "--rate", "20",
    ])  # fmt: skip
    values = given(args, TrainConfig)
    assert values == {
        "datasets": ("d",), "run_dir": "r", "weighting.temperature": 2.0, "weighting.normalize": False,
        "labels": ("success", "failure"), "hidden_sizes": (32, 32), "progress": False, "num_threads": 4,
        "rate_hz": 20.0,
    }  # fmt: skip
    enc = _subparser(("train-encoder",)).parse_args(["v", "--out", "r", "--betas", "0.9", "0.99"])
    assert (enc.out_dir, enc.betas) == ("r", [0.9, 0.99])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--steps", "0"], "argument --steps: must be at least 1, got 0"),
        (["--lr", "0"], "argument --lr: must be above 0, got 0.0"),
        (["--proprio", "ee_pose,elbow"], "argument --proprio: 'elbow' is not one of"),
        (["--hidden", "32,x"], "argument --hidden:"),
        (["--gamma", "1"], "argument --gamma: must be below 1"),
    ],
)
def test_bad_values_are_usage_errors_naming_the_flag(argv, needle, capsys):
    with pytest.raises(SystemExit) as info:
        _subparser(("train",)).parse_args(argv)
    assert info.value.code == 2 and needle in capsys.readouterr().err


@dataclass(frozen=True)
class Inner:
    depth: int = option(3, "how deep", bounds="[1, 10]")


@dataclass(frozen=True)
class Demo:
    name: str = option(REQUIRED, "what to call it")
    count: int = option(2, "how many", flag="--n", aliases=("--count",), bounds="[0, 100]")
    tags: tuple[str, ...] = option((), "a tag (repeatable)", flag="--tag", repeat=True)
    inner: Inner = field(default_factory=Inner)


def test_resolution_order_and_resume_differences():
    parser = argparse.ArgumentParser()
    add_options(parser, Demo)
    args = parser.parse_args(["--name", "x", "--count", "7", "--tag", "a", "--tag", "b"])
    cfg = from_args(Demo, args, {"count": 5, "inner.depth": 4})  # a task-config layer under the flags
    assert cfg == Demo("x", 7, ("a", "b"), Inner(4))
    assert from_args(Demo, parser.parse_args(["--name", "y"]), {"count": 5}).count == 5
    with pytest.raises(ConfigError, match="--name is required: what to call it"):
        from_args(Demo, parser.parse_args([]))
    with pytest.raises(ConfigError, match=r"inner.depth must be at most 10, got 11 \(allowed \[1, 10\]\)"):
        resolve(Demo, {"name": "x", "inner.depth": 11})
    saved = to_json(cfg)
    assert saved == {"name": "x", "count": 7, "tags": ["a", "b"], "inner": {"depth": 4}}
    assert resume_differences(cfg, saved) == []
    assert resume_differences(Demo("x", 8, ("a", "b"), Inner(4)), saved) == ["count: checkpoint 7, now 8"]
    assert resume_differences(Demo("x", 8), saved, free=frozenset({"count", "tags", "inner.depth"})) == []
