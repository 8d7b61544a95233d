"""Issue 17 acceptance, on the real simulator and the real `vipflow` processes.

One small `vipflow demo` (2 seeds, 100 policy steps, 2 rollouts of 20 steps) runs as a process with
stdout and stderr going to a file, as `vipflow demo > log.txt 2>&1` would: the log stays readable
(no bar redraws, at most 100 lines). Then the `vipflow train` and `vipflow evaluate run` commands
its report.md prints are run as processes, each into another --out, and must give bit-identical
policy weights and ledgers. (A ledger's ``created`` stamp and the encoder's compute latency, a
wall-clock measurement, are the only fields that differ between two runs of one evaluation.)
`demo --resume` skips every finished stage; `evaluate run --resume` finishes an interrupted session.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors import safe_open

from vipflow.sim import configure_gl

configure_gl()

from vipflow.cli.main import main  # noqa: E402
from vipflow.evaluation.ledger import Ledger  # noqa: E402
from vipflow.policy import latest_checkpoint  # noqa: E402

SMALL = ["--experts", "2", "--failures", "1", "--steps", "100", "--rollouts", "2", "--horizon", "20",
         "--seeds", "2"]  # fmt: skip
VIPFLOW = [sys.executable, "-c", "import sys; from vipflow.cli.main import main; sys.exit(main())"]


def _run(argv: list[str], cwd: Path, log: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    if log is None:
        return subprocess.run(VIPFLOW + argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    with log.open("w") as f:  # stdout is a file, not a terminal: progress switches itself off
        return subprocess.run(VIPFLOW + argv, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT,
                              timeout=900)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The working directory holding the demo's output folder ``d`` and its ``log.txt``."""
    cwd = tmp_path_factory.mktemp("demo")
    done = _run(["demo", "--out", "d", *SMALL], cwd, log=cwd / "log.txt")
    assert done.returncode == 0, (cwd / "log.txt").read_text()[-3000:]
    return cwd


def _commands(report: Path) -> list[list[str]]:
    """The commands in report.md's shell block (the lines that are not comments)."""
    text = report.read_text().split("## Reproduce a stage by hand", 1)[1]
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line) for line in block.splitlines() if line and not line.startswith("#")]


def _with(argv: list[str], flag: str, value: str) -> list[str]:
    i = argv.index(flag)
    return [*argv[: i + 1], value, *argv[i + 2 :]]


def _weights(path: Path) -> tuple[dict, dict]:
    """(metadata, tensor name -> raw bytes): bit for bit, whatever order the header lists them in (the
    safetensors writer orders metadata keys differently from one process to the next)."""
    with safe_open(str(path), "np") as f:
        return f.metadata(), {k: f.get_tensor(k).tobytes() for k in f.keys()}  # noqa: SIM118


def _comparable(ledger_path: Path) -> dict:
    data = json.loads(ledger_path.read_text())
    data.pop("created")
    data["timing"].pop("encoder_latency_ms")  # compute wall time: measured, never reproducible
    return data


@pytest.mark.slow
def test_a_demo_log_on_a_file_is_short_and_readable(demo):
    log = (demo / "log.txt").read_bytes()
    lines = log.decode().splitlines()
    assert len(lines) <= 100, f"{len(lines)} lines"
    assert b"\r" not in log and b"\x1b[" not in log  # no bar redraws, no cursor control
    for stage in range(1, 6):
        assert any(line.startswith(f"[{stage}/5]") for line in lines)
    assert any("(100 %" in line for line in lines)  # a line per 10 % of a long loop, not a bar
    assert "| slide_cabinet |" in log.decode()


@pytest.mark.slow
def test_the_printed_commands_reproduce_every_stage_bit_for_bit(demo):
    d = demo / "d"
    assert (d / "slide_cabinet.yaml").is_file() and (d / "limits.yaml").is_file()
    commands = _commands(d / "report.md")
    printed = (demo / "log.txt").read_text()
    assert all(shlex.join(argv) in printed for argv in commands)  # the same commands on stdout
    trains = [c for c in commands if c[1] == "train"]
    evaluations = [c for c in commands if c[1:3] == ["evaluate", "run"]]
    assert len(trains) == len(evaluations) == 4  # 2 methods x 2 seeds
    seed1 = [c for c in trains + evaluations if "--seed" in c]  # seed 1: every flag is exercised
    assert len(seed1) == 4
    for argv in seed1:
        out = argv[argv.index("--out") + 1]
        again = f"again/{out}"
        done = _run(_with(argv, "--out", again)[1:], demo)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "warning" not in done.stderr  # nothing differs from how the policy was trained
        if argv[1] == "train":
            mine, theirs = latest_checkpoint(demo / again), latest_checkpoint(demo / out)
            assert _weights(mine / "policy.safetensors") == _weights(theirs / "policy.safetensors")
        else:
            assert _comparable(demo / again / "ledger.json") == _comparable(demo / out / "ledger.json")
    # The demo's printed command into its own folder is refused, not silently overwritten.
    refused = _run(trains[0][1:], demo)
    assert refused.returncode == 2 and "--overwrite" in refused.stderr


@pytest.mark.slow
def test_evaluate_run_takes_the_policys_settings_and_warns_on_a_differing_override(demo, capsys, monkeypatch):
    argv = next(c for c in _commands(demo / "d" / "report.md") if c[1:3] == ["evaluate", "run"])
    monkeypatch.chdir(demo)
    argv = _with(_with(argv, "--out", "small"), "--rollouts", "1")
    assert main([*argv[1:], "--image-size", "32", "--no-progress"]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "--image-size 32" in warnings[0] and "64 px" in warnings[0]
    assert Ledger.load(demo / "small").backend["image_size"] == 32
    # The defaults come from the policy's record: the demo's 64 px and its encoder weights.
    assert Ledger.load(demo / "d" / "evaluation" / "VIP-RWR" / "seed0").backend["image_size"] == 64


@pytest.mark.slow
def test_evaluate_run_resume_finishes_an_interrupted_session(demo, capsys, monkeypatch):
    argv = next(c for c in _commands(demo / "d" / "report.md") if c[1:3] == ["evaluate", "run"])
    full = demo / argv[argv.index("--out") + 1] / "ledger.json"
    monkeypatch.chdir(demo)
    first = [*_with(_with(argv, "--out", "cut"), "--rollouts", "1")[1:], "--no-progress"]
    assert main(first) == 0
    # An interruption in rollout 1: recorded as aborted, its episode half written.
    ledger = json.loads((demo / "cut" / "ledger.json").read_text())
    aborted = dict(ledger["rollouts"][0], index=1, success=None, judged_by="aborted",
                   episode="episodes/rollout_001")
    ledger["rollouts"].append(aborted)
    (demo / "cut" / "ledger.json").write_text(json.dumps(ledger))
    (demo / "cut" / "episodes" / "rollout_001").mkdir()
    (demo / "cut" / "episodes" / "rollout_001" / "partial.mcap").write_bytes(b"half")

    rest = [*_with(argv, "--out", "cut")[1:], "--no-progress"]
    assert main(rest) == 2  # not without --resume
    assert "--resume" in capsys.readouterr().err
    assert main([*rest, "--resume"]) == 0
    resumed = Ledger.load(demo / "cut")
    assert [r.index for r in resumed.rollouts] == [0, 1] and resumed.config["resumed_at"] == [1]
    assert (demo / "cut" / "episodes" / "rollout_001.aborted-1" / "partial.mcap").read_bytes() == b"half"
    # The same rollouts as the uninterrupted session (rollout i starts from the same simulator reset).
    assert [r.__dict__ for r in resumed.rollouts] == [r.__dict__ for r in Ledger.load(full).rollouts]
    # Another evaluation is never resumed into it.
    assert main([*rest, "--seed", "7", "--resume"]) == 2
    assert "cannot resume" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_resume_skips_finished_stages_and_refuses_other_settings(demo, capsys, monkeypatch):
    monkeypatch.chdir(demo)
    before = (demo / "d" / "results.json").read_text()
    assert main(["demo", "--out", "d", *SMALL, "--no-progress"]) == 2  # not empty: never overwritten
    assert "--resume" in capsys.readouterr().err
    assert main(["demo", "--out", "d", *_with(SMALL, "--steps", "200"), "--resume", "--no-progress"]) == 2
    assert "policy_steps" in capsys.readouterr().err
    assert main(["demo", "--out", "d", *SMALL, "--resume", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "recording slide_cabinet demos" not in err  # the demos were not recorded again
    after = json.loads((demo / "d" / "results.json").read_text())
    assert after["success_per_seed"] == json.loads(before)["success_per_seed"]
    assert after["seeds"] == [0, 1] and len(after["success_per_seed"]) == 4
    report = (demo / "d" / "report.md").read_text()
    assert "| VIP-RWR | 1 |" in report  # a row per seed
