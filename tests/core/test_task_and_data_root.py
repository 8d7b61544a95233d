"""Issue 17.3 and 17.5: `vipflow task new` writes a commented template that loads as a valid task
config, `vipflow record --task-config` takes its settings from it, and every default output lands
under the data root ($VIPFLOW_DATA or --data-root)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from vipflow.cli.main import build_parser, main
from vipflow.cli.record import session_config
from vipflow.data_root import LAYOUT, data_root
from vipflow.task_config import TaskConfig, load_task_config

ROOT = Path(__file__).resolve().parents[2]
LIMITS = ROOT / "config" / "safety_default.yaml"


def _new_task(tmp_path: Path, name: str = "close_lid") -> Path:
    assert main(["task", "new", name, "--out", str(tmp_path / "tasks"), "--limits", str(LIMITS)]) == 0
    return tmp_path / "tasks" / f"{name}.yaml"


def test_task_new_writes_a_commented_template_that_loads(tmp_path, capsys):
    path = _new_task(tmp_path)
    assert "record --task-config" in capsys.readouterr().out
    text = path.read_text()
    cfg = load_task_config(path)  # valid, safety limits included
    assert cfg.task == "close_lid" and cfg.kind == "real"
    assert cfg.dataset_dir == data_root() / "datasets" / "close_lid"
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    keys = [line.split(":")[0].strip() for line in lines]
    values = [line for line in lines if not line.endswith(":")]  # a key with its value (not a section)
    assert all(len(line.split("  # ")[-1]) > 10 for line in values), "every key is explained"
    sections = [f for f in TaskConfig.__dataclass_fields__ if f != "source"]
    assert set(sections) <= set(keys)
    # never over an existing file; a bad name is one line naming the problem
    assert main(["task", "new", "close_lid", "--out", str(tmp_path / "tasks"), "--limits", str(LIMITS)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["task", "new", "a/b", "--out", str(tmp_path / "tasks"), "--limits", str(LIMITS)]) == 2
    assert "task name" in capsys.readouterr().err


def test_task_new_finds_the_base_limits_beside_config_tasks(tmp_path, monkeypatch, capsys):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "safety_default.yaml").write_text(LIMITS.read_text())
    monkeypatch.chdir(tmp_path)
    assert main(["task", "new", "wipe"]) == 0  # default --out config/tasks
    cfg = load_task_config(tmp_path / "config" / "tasks" / "wipe.yaml")
    assert cfg.safety.limits == "../safety_default.yaml"
    monkeypatch.chdir(tmp_path / "config" / "tasks")  # nowhere to find limits from here
    assert main(["task", "new", "other", "--out", str(tmp_path / "elsewhere")]) == 2
    assert "--limits" in capsys.readouterr().err


def _record_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["record", *argv, "--source", "fake"])


def test_record_takes_its_settings_from_the_task_config(tmp_path):
    path = _new_task(tmp_path)
    text = path.read_text().replace('episodes: 20', 'episodes: 7').replace('"raw"', '"jpeg"', 1)
    path.write_text(text.replace("width: 640", "width: 320").replace('text: ""', 'text: "close the lid"', 1))
    args = _record_args("--task-config", str(path))
    cfg = session_config(args)
    assert cfg.dataset == data_root() / "datasets" / "close_lid" and cfg.task == "close_lid"
    assert cfg.num_episodes == 7 and cfg.episode_time_s == pytest.approx(50 / 25.0)
    assert cfg.goal_text == "close the lid" and cfg.image_format == "jpeg" and args.width == 320
    # explicit options override the task config
    args = _record_args("--task-config", str(path), "--episodes", "3", "--dataset", str(tmp_path / "d"),
                        "--width", "160")
    cfg = session_config(args)
    assert cfg.num_episodes == 3 and cfg.dataset == tmp_path / "d" and args.width == 160
    # without a task config the dataset and task are still required, and named
    with pytest.raises(Exception, match="--dataset is required"):
        session_config(_record_args("--task", "t"))


def test_default_outputs_land_under_the_data_root(tmp_path, monkeypatch):
    from vipflow.cli.rewards import RewardsOptions
    from vipflow.cli.train import config_from_args
    from vipflow.demo_config import WorkflowConfig
    from vipflow.encoder_training import TrainConfig as EncoderTrainConfig
    from vipflow.encoders import default_weights_dir
    from vipflow.evaluation.session import results_dir
    from vipflow.policy.cache import default_cache_dir

    monkeypatch.setenv("VIPFLOW_DATA", str(tmp_path / "root"))
    monkeypatch.delenv("VIPFLOW_CACHE", raising=False)
    monkeypatch.delenv("VIPFLOW_WEIGHTS_DIR", raising=False)
    root = tmp_path / "root"
    assert data_root() == root
    assert WorkflowConfig().out_dir == root / "demo"
    assert RewardsOptions(inputs=(Path("x.mp4"),)).out == root / "rewards"
    assert EncoderTrainConfig().out_dir == str(root / "runs" / "train_encoder")
    assert results_dir("t", "VIP-RWR", 2) == root / "results" / "t" / "VIP-RWR" / "seed2"
    assert default_cache_dir() == root / "cache" / "embeddings"
    assert default_weights_dir() == root / "cache" / "weights"
    cfg, _ = config_from_args(build_parser().parse_args(["train", "d", "--encoder-weights", "w.pt"]))
    assert Path(cfg.run_dir).parent == root / "runs" and Path(cfg.run_dir).name.startswith("policy-rwr-")
    # the older per-folder variables still win for their folder
    monkeypatch.setenv("VIPFLOW_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("VIPFLOW_WEIGHTS_DIR", str(tmp_path / "w"))
    assert default_cache_dir() == tmp_path / "c" / "embeddings" and default_weights_dir() == tmp_path / "w"
    monkeypatch.delenv("VIPFLOW_DATA")
    assert data_root() == Path.home() / "vipflow_data"


def test_data_root_option_sets_the_root_for_the_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIPFLOW_DATA", str(tmp_path / "env"))
    ledger = tmp_path / "missing.json"
    main(["--data-root", str(tmp_path / "opt"), "evaluate", "table", str(ledger)])  # fails: no ledger
    import os

    assert os.environ["VIPFLOW_DATA"] == str(tmp_path / "opt")
    assert "missing.json" in capsys.readouterr().err


def test_readme_lists_every_data_root_folder_and_results_are_ignored():
    readme = (ROOT / "README.md").read_text().split("### Where things land")[1]
    for folder in LAYOUT:
        assert f"`{folder}`" in readme, folder
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert {"results/", "rewards_out/", "runs/", "/vipflow_demo/"} <= set(ignored)


def test_new_task_doc_explains_every_key():
    from vipflow.config_schema import schema_fields

    doc = (ROOT / "docs" / "new-task.md").read_text()
    for name, f, _tp in schema_fields(TaskConfig):
        if not f.metadata.get("internal"):
            assert f"`{name}`" in doc, f"docs/new-task.md does not explain {name}"
