"""Issue 12 finding 8: task configs bound every count, horizon and rate; every YAML (and a run's
JSON) refuses duplicate keys. Each refusal is one line naming the file, the key, the value and
the range."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vipflow.cli.main import main
from vipflow.runtime.limits import LimitsError, load_limits
from vipflow.task_config import TaskConfigError, load_task_config

CONFIG = Path(__file__).resolve().parents[2] / "config"


def _task(tmp_path: Path, text: str) -> Path:
    """The shipped fold_towel.yaml with ``text`` edited in, beside a copy of the default limits."""
    (tmp_path / "tasks").mkdir(exist_ok=True)
    (tmp_path / "safety_default.yaml").write_text((CONFIG / "safety_default.yaml").read_text())
    path = tmp_path / "tasks" / "fold_towel.yaml"
    path.write_text(text)
    return path


def _shipped() -> str:
    return (CONFIG / "tasks" / "fold_towel.yaml").read_text()


def _edit(text: str, section: str, key: str, value: str) -> str:
    """``section.key: value`` (top-level ``key`` when section is '') set in a YAML text, as a user would."""
    lines = text.splitlines()
    if not section:
        return "".join(ln + "\n" for ln in lines if not ln.startswith(f"{key}:")) + f"{key}: {value}\n"
    start = lines.index(f"{section}:")
    inside = (i for i in range(start + 1, len(lines)) if lines[i] and not lines[i][0].isspace())
    end = next(inside, len(lines))
    block = [ln for ln in lines[start + 1 : end] if not ln.strip().startswith(f"{key}:")]
    lines[start + 1 : end] = [f"  {key}: {value}", *block]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("section", "key", "value", "needle"),
    [
        ("evaluate", "rollouts", "1000000000000", "evaluate.rollouts must be at most 10000, got 10000000"),
        ("evaluate", "horizon", "1000000000000", "evaluate.horizon must be at most 100000, got 10000000"),
        ("record", "horizon", "1000000000000", "record.horizon must be at most 100000"),
        ("record", "episodes", "0", "record.episodes must be at least 1, got 0"),
        ("", "rate_hz", "0.001", "rate_hz must be at least 1, got 0.001 (allowed [1, 1000])"),
        ("evaluate", "reset_s", "1.0e+9", "evaluate.reset_s must be at most 3600"),
        ("camera", "fps", "100000", "camera.fps must be at most 1000"),
        ("goal", "last_frames", "1000000", "goal.last_frames must be at most 10000"),
    ],
)
def test_counts_horizons_and_rates_are_bounded(tmp_path, section, key, value, needle):
    data = _edit(_shipped(), section, key, value)
    path = _task(tmp_path, data)
    with pytest.raises(TaskConfigError) as info:
        load_task_config(path)
    message = str(info.value)
    assert needle in message and str(path) in message and "\n" not in message


def test_duplicate_keys_in_a_task_config_are_refused(tmp_path):
    path = _task(tmp_path, _shipped() + "\nrate_hz: 50.0\n")  # rate_hz is already set above
    with pytest.raises(TaskConfigError, match=r"duplicate key 'rate_hz' at line \d+") as info:
        load_task_config(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    nested = _shipped().replace("\nevaluate:\n", "\nevaluate:\n  rollouts: 3\n  rollouts: 30\n", 1)
    with pytest.raises(TaskConfigError, match="duplicate key 'rollouts'"):
        load_task_config(_task(tmp_path, nested))


def test_duplicate_keys_in_safety_limits_are_refused(tmp_path):
    text = (CONFIG / "safety_default.yaml").read_text()
    line = "  max_translation_m: 0.01"
    doubled = text.replace(line, f"{line}\n  max_translation_m: 0.5", 1)
    assert doubled != text
    (tmp_path / "limits.yaml").write_text(doubled)
    with pytest.raises(LimitsError, match="duplicate key 'max_translation_m'") as info:
        load_limits(tmp_path / "limits.yaml")
    assert "limits.yaml" in str(info.value)
    # the same through a task config that names the doubled file as its base limits
    path = _task(tmp_path, _shipped())
    (tmp_path / "safety_default.yaml").write_text(doubled)
    with pytest.raises(TaskConfigError, match="duplicate key 'max_translation_m'"):
        load_task_config(path)


def test_duplicate_keys_in_a_resolved_run_config_are_refused(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"train": {"steps": 10, "steps": 20}, "resolved": {}}')
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "duplicate key 'steps'" in err and "config.json" in err
    assert json.loads((run / "config.json").read_text())["train"] == {"steps": 20}  # untouched


def test_shipped_configs_stay_inside_the_bounds():
    for path in sorted((CONFIG / "tasks").glob("*.yaml")):
        load_task_config(path)
    load_limits(CONFIG / "safety_default.yaml")
