"""`vipflow train` end to end, resume through the CLI, and the parser shared with the ROS wrapper."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from vipflow.cli.main import main
from vipflow.cli.train import add_train_arguments, build_train_parser, config_from_args
from vipflow.policy import load_policy


def _common(dataset, weights, cache):
    return [
        str(dataset),
        "--encoder",
        "vip",
        "--encoder-weights",
        str(weights),
        "--cache-dir",
        str(cache),
        "--proprio",
        "ee_pose,gripper",
        "--hidden",
        "32,32",
        "--eval-every",
        "10",
        "--save-every",
        "20",
        "--log-every",
        "10",
        "--no-progress",
    ]


def test_train_then_resume_via_cli(progress_dataset, small_encoder_file, tmp_path, capsys):
    run = tmp_path / "run"
    argv = [
        "train",
        *_common(progress_dataset, small_encoder_file, tmp_path / "c"),
        "--out",
        str(run),
        "--method",
        "rwr",
        "--tau",
        "1.0",
        "--weight-clip",
        "5",
        "--steps",
        "30",
        "--seed",
        "3",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "30 steps" in out and "checkpoint:" in out
    saved = json.loads((run / "config.json").read_text())["train"]
    assert saved["weighting"] == {**saved["weighting"], "method": "rwr", "temperature": 1.0, "clip": 5.0}
    assert saved["hidden_sizes"] == [32, 32] and saved["seed"] == 3

    assert main(["train", "--resume", str(run), "--steps", "50", "--no-progress"]) == 0
    assert load_policy(run).path.name == "step_00000050"

    assert main(["train", "--resume", str(run), "--lr", "0.1"]) == 2
    assert "drop ['lr']" in capsys.readouterr().err
    assert (
        main(["train", *_common(progress_dataset, small_encoder_file, tmp_path / "c"), "--out", str(run)])
        == 2
    )
    err = capsys.readouterr().err
    assert "not empty; pass --resume to continue the training run in it, --overwrite" in err


def test_task_config_sets_defaults_and_options_override(tmp_path):
    task = tmp_path / "drawer.yaml"
    task.write_text(
        "version: 1\ntask: drawer\ndescription: close it\nrate_hz: 20.0\n"
        "goal: {source: dataset, last_frames: 3}\n"
        "encoder: {name: r3m, arch: resnet18}\n"
        "policy: {algorithm: rwr, tau: 1.0, action_space: joint_delta, proprio: [joint_pos, gripper]}\n"
        f"record: {{dataset: {tmp_path / 'data'}}}\n"
    )
    args = build_train_parser().parse_args(["--task-config", str(task), "--tau", "0.5", "--steps", "100"])
    cfg, resume = config_from_args(args)
    assert not resume
    assert cfg.datasets == (str(tmp_path / "data"),) and cfg.rate_hz == 20.0 and cfg.goal_last_frames == 3
    assert (cfg.encoder, cfg.encoder_arch, cfg.action_space) == ("r3m", "resnet18", "joint_delta")
    assert cfg.proprio == ("joint_pos", "gripper") and cfg.weighting.temperature == 0.5 and cfg.steps == 100
    assert Path(cfg.run_dir).name.startswith("drawer-rwr-") and Path(cfg.run_dir).is_absolute()


def test_parser_builder_is_reusable_and_defaults_match_the_paper():
    parser = argparse.ArgumentParser(prog="ros2 run rwr_policy_node train")
    add_train_arguments(parser)
    cfg, _ = config_from_args(parser.parse_args(["data", "--out", "r"]))
    assert (cfg.lr, cfg.batch_size, cfg.steps, cfg.hidden_sizes) == (1e-3, 32, 20_000, (256, 256))
    w = cfg.weighting
    assert (w.method, w.temperature, w.reward_scale) == ("rwr", 1.0, "std")
    # the task YAML schema, the demo and bench/paper default to the same temperature
    from vipflow.demo_config import WorkflowConfig
    from vipflow.task_config import PolicySpec

    assert PolicySpec().tau == WorkflowConfig().temperature == w.temperature
    with pytest.raises(SystemExit):
        parser.parse_args(["--proprio", "elbow"])
