"""`vipflow record --task-config` end to end, as an operator runs it: a real terminal (pty), keys
typed when the recorder asks, fake hardware; the episodes carry the task config's settings."""

from __future__ import annotations

import os
import select
import sys
import time
from pathlib import Path

import pytest

from vipflow.episodes import list_episodes, read_episode

ROOT = Path(__file__).resolve().parents[2]
pty = pytest.importorskip("pty")


def _drive(argv: list[str], steps: list[tuple[bytes, bytes]], timeout_s: float = 120) -> tuple[int, str]:
    """Run ``argv`` on a pty; type each key once its prompt appeared; (exit status, output)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the recorder, with stdin a terminal
        os.execv(sys.executable, [sys.executable, "-m", "vipflow.cli.main", *argv])
    out, end = b"", time.monotonic() + timeout_s

    def until(text: bytes, start: int) -> int:
        nonlocal out
        while time.monotonic() < end and text not in out[start:]:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
        assert text in out[start:], out.decode(errors="replace")[-2000:]
        return len(out)

    seen = 0
    for key, prompt in steps:
        seen = until(prompt, seen)
        time.sleep(0.3)  # the recorder is reading keys once it has printed the prompt
        os.write(fd, key)
    until(b"session done", seen)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return status, out.decode(errors="replace")


@pytest.mark.slow
def test_record_takes_the_task_config(tmp_path, monkeypatch):
    from vipflow.cli.main import main

    monkeypatch.setenv("VIPFLOW_DATA", str(tmp_path / "root"))
    path = [str(ROOT / "src" / "vipflow"), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(path))
    limits = ROOT / "config" / "safety_default.yaml"
    assert main(["task", "new", "close_lid", "--out", str(tmp_path / "tasks"), "--limits", str(limits)]) == 0
    yaml = tmp_path / "tasks" / "close_lid.yaml"
    text = yaml.read_text().replace("episodes: 20", "episodes: 2")
    text = text.replace('text: ""', 'text: "close the lid"', 1)
    yaml.write_text(text.replace("width: 640", "width: 320").replace("height: 480", "height: 240"))
    ready, rec = b"ready for episode", b"REC episode"
    status, out = _drive(["record", "--task-config", str(yaml), "--source", "fake", "--robot", "fake",
                          "--reset-time", "0"], [(b" ", ready), (b"s", rec), (b" ", ready), (b"f", rec)])
    assert status == 0, out
    dataset = tmp_path / "root" / "datasets" / "close_lid"  # the task config's default dataset
    episodes = list_episodes(dataset)
    assert [e.label for e in episodes] == ["success", "failure"]
    meta = read_episode(episodes[0].path).meta
    assert meta.task == "close_lid" and meta.goal_text == "close the lid" and meta.nominal_rate_hz == 25.0
    assert "320x240" in out and "/2 s" in out  # camera size and record.horizon / rate_hz from the file
