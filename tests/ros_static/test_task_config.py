"""Task configs: every shipped file validates; each kind of mistake gets a named, specific error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from vipflow.runtime.limits import load_limits
from vipflow.task_config import (
    TaskConfigError,
    find_task_configs,
    load_task_config,
    resolve_task_config,
    task_config_from_dict,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"
REAL_TASKS = {"fold_towel", "close_drawer", "push_bottle", "place_melon"}
SIM_TASKS = {"slide_cabinet", "microwave", "hinge_cabinet", "light_switch"}


def _shipped() -> dict[str, Path]:
    return find_task_configs([CONFIG])


def test_the_paper_tasks_and_the_kitchen_tasks_ship():
    assert set(_shipped()) == REAL_TASKS | SIM_TASKS


@pytest.mark.parametrize("name", sorted(REAL_TASKS | SIM_TASKS))
def test_shipped_config_validates(name):
    cfg = load_task_config(_shipped()[name])
    assert cfg.task == name
    assert cfg.kind == ("sim" if name in SIM_TASKS else "real")
    limits = cfg.safety_limits()
    if not cfg.safety.overrides:
        assert limits == load_limits(CONFIG / "safety_default.yaml")
    else:
        assert limits != load_limits(CONFIG / "safety_default.yaml")
    assert cfg.evaluate.rollouts == 10 and cfg.rate_hz == 25.0


def test_paper_settings():
    cfgs = {n: load_task_config(p) for n, p in _shipped().items()}
    assert cfgs["close_drawer"].policy.tau == 1.0  # VIP paper: tau = 1 on CloseDrawer only
    assert all(cfgs[n].policy.tau == 0.1 for n in REAL_TASKS - {"close_drawer"})
    assert cfgs["close_drawer"].record.episodes == 30  # 10 experts + 20 failures
    assert all(cfgs[n].record.horizon == 50 and cfgs[n].evaluate.horizon == 100 for n in REAL_TASKS)


def test_hardware_topics_agree_across_tasks():
    """All real tasks run on the same rig, all simulated ones on the same bridge: a topic that
    differs in one file is a typo that would leave a node listening to nothing."""
    cfgs = [load_task_config(p) for p in _shipped().values()]
    for kind in ("real", "sim"):
        topic_sets = {tuple(sorted(vars(c.topics).items())) for c in cfgs if c.kind == kind}
        assert len(topic_sets) == 1, f"{kind} tasks disagree on topic names: {topic_sets}"


def _base() -> dict:
    return yaml.safe_load((CONFIG / "tasks" / "fold_towel.yaml").read_text())


def _write(tmp_path: Path, data: dict, name: str = "fold_towel") -> Path:
    (tmp_path / "tasks").mkdir(exist_ok=True)
    path = tmp_path / "tasks" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    (tmp_path / "safety_default.yaml").write_text((CONFIG / "safety_default.yaml").read_text())
    return path


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda d: d.update(gaol={}), "unknown key(s) ['gaol']"),
        (lambda d: d["policy"].update(tau="0.1"), "policy.tau: expected a number, got '0.1'"),
        (lambda d: d["policy"].update(action_space="cartesian"), "unknown action space 'cartesian'"),
        (lambda d: d["policy"].update(proprio=["ee_pose", "force"]), "unknown features ['force']"),
        (lambda d: d["policy"].update(algorithm="ppo"), "policy.algorithm 'ppo' is not one of"),
        (lambda d: d["encoder"].update(name="dino"), "encoder.name 'dino' is not one of"),
        (lambda d: d["encoder"].update(arch="rn50"), "encoder.arch 'rn50' is not an architecture of vip"),
        (lambda d: d["goal"].update(source="text"), "goal.source 'text' needs the liv encoder"),
        (lambda d: d["goal"].update(source="images"), "goal.images is empty"),
        (lambda d: d["goal"].update(source="video"), "goal.source: 'video' is not one of"),
        (lambda d: d["camera"].update(driver="sim"), "kind 'real' needs camera.driver"),
        (lambda d: d["camera"].update(fps=15), "camera.fps 15 is below rate_hz 25.0"),
        (lambda d: d["record"].update(horizon=1), "record.horizon must be at least 2"),
        (lambda d: d["reward"].update(gamma=1.5), "reward.gamma must be in (0, 1]"),
        (lambda d: d["topics"].update(image="camera/image"), "topics must be absolute names"),
        (lambda d: d["topics"].update(reward="/vip/embedding"), "topics must be distinct"),
        (lambda d: d.update(version=2), "version 2 is not supported"),
        (lambda d: d.update(source="/x"), "'source' is set by the loader"),
    ],
)
def test_mistakes_are_named(tmp_path, change, needle):
    data = _base()
    change(data)
    with pytest.raises(TaskConfigError) as info:
        load_task_config(_write(tmp_path, data))
    assert needle in str(info.value)
    assert "fold_towel.yaml" in str(info.value)  # the file is named


def test_file_level_errors(tmp_path):
    with pytest.raises(TaskConfigError, match="not found"):
        load_task_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: [unclosed\n")
    with pytest.raises(TaskConfigError, match="is not valid YAML"):
        load_task_config(bad)
    with pytest.raises(TaskConfigError, match="must match the file name 'other'"):
        load_task_config(_write(tmp_path, _base(), name="other"))
    data = _base()
    data["safety"]["limits"] = "missing_limits.yaml"
    with pytest.raises(TaskConfigError, match=r"safety.limits file .*missing_limits.yaml not found"):
        load_task_config(_write(tmp_path, data))
    data = _base()
    data["safety"]["overrides"] = {"step": {"max_translation_m": -1}}
    with pytest.raises(TaskConfigError, match=r"safety: step.max_translation_m must be a positive number"):
        load_task_config(_write(tmp_path, data))
    data = _base()
    data["safety"]["overrides"] = {"wrokspace": {}}
    with pytest.raises(TaskConfigError, match="unknown safety-limit sections"):
        load_task_config(_write(tmp_path, data))


def test_overrides_merge_over_the_base_limits(tmp_path):
    data = _base()
    data["safety"]["overrides"] = {"workspace": {"max": [0.7, 0.3, 0.5]}}
    limits = load_task_config(_write(tmp_path, data)).safety_limits()
    assert limits.workspace.max == (0.7, 0.3, 0.5)
    assert limits.workspace.min == (0.25, -0.40, 0.05)  # untouched keys keep the base values
    assert limits.step.max_translation_m == 0.01


def test_paths_resolve_where_documented(tmp_path, monkeypatch):
    data = _base()
    data["goal"].update(source="images", images=["goals/done.png"])
    path = _write(tmp_path, data)
    cfg = load_task_config(path)
    with pytest.raises(TaskConfigError, match=r"goal.images not found: .*goals/done.png"):
        cfg.goal_image_paths()
    (tmp_path / "tasks" / "goals").mkdir()
    (tmp_path / "tasks" / "goals" / "done.png").write_bytes(b"png")
    assert cfg.goal_image_paths() == [tmp_path / "tasks" / "goals" / "done.png"]  # beside the YAML
    monkeypatch.setenv("VIPFLOW_DATA", str(tmp_path / "root"))  # the data root (vipflow.data_root)
    assert cfg.dataset_dir == tmp_path / "root" / "datasets" / "fold_towel"
    monkeypatch.delenv("VIPFLOW_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cfg.dataset_dir == tmp_path / "vipflow_data" / "datasets" / "fold_towel"
    monkeypatch.chdir(tmp_path)
    data["record"]["dataset"] = "data/towels"
    assert load_task_config(_write(tmp_path, data)).dataset_dir == tmp_path / "data" / "towels"


def test_resolve_by_name_or_path(tmp_path, monkeypatch):
    monkeypatch.setenv("VIPFLOW_CONFIG_DIR", str(CONFIG))
    monkeypatch.chdir(tmp_path)
    assert resolve_task_config("push_bottle").task == "push_bottle"
    assert resolve_task_config(CONFIG / "tasks" / "microwave.yaml").kind == "sim"
    with pytest.raises(TaskConfigError, match=r"unknown task 'fold_towl'; known: .*fold_towel"):
        resolve_task_config("fold_towl")


def test_goal_text_defaults_to_the_description():
    data = _base()
    data["goal"]["text"] = ""
    cfg = task_config_from_dict(data, "inline")
    assert cfg.goal_text == cfg.description
