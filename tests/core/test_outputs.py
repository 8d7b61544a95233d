"""Issue 12, finding 10: output paths are checked before any work starts, and no writer ever
replaces or follows a device, FIFO or symlink.

The device case uses a character device node the test creates in its own temporary folder
(``os.mknod`` of 1:3, the null device, when running as root; a FIFO otherwise) - never the real
/dev/null. Before the fix ``vipflow weights export vip W DEV`` replaced the node with a regular
file and ``evaluate table --out DEV`` wrote DEV.md and DEV.png beside it.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vipflow.cli.main import main
from vipflow.durable import UnsafeOutputError, atomic_write_text
from vipflow.episodes import EpisodeMeta, EpisodeWriter
from vipflow.hardware import Frame, RobotState
from vipflow.outputs import OutputPathError, check_output_dir, check_output_file

ROOT = os.geteuid() == 0


def write_episode(path: Path, ticks: int = 12) -> Path:
    """A small real episode (64x64 frames and state at 25 Hz) through the real writer."""
    with EpisodeWriter(path, EpisodeMeta(task="t"), time_offset_ns=0) as w:
        for i in range(ticks):
            t = 10**12 + i * 40_000_000
            w.write_frame(Frame(t, np.full((64, 64, 3), 10 * i, np.uint8)))
            pose = np.array([0.4 + 0.01 * i, 0, 0.3, 0, 0, 0, 1.0])
            w.write_state(RobotState(t, np.linspace(0, 0.6, 7), np.zeros(7), pose, 0.04))
        w.close("success")
    return path


@pytest.fixture
def device(tmp_path) -> Path:
    """A character device (1:3, like /dev/null) created in tmp when root, else a FIFO."""
    node = tmp_path / "devnode"
    if ROOT:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    else:
        os.mkfifo(node)
    return node


def _still_special(node: Path) -> bool:
    mode = os.lstat(node).st_mode
    return stat.S_ISCHR(mode) if ROOT else stat.S_ISFIFO(mode)


@pytest.fixture
def readonly_dir(tmp_path, mount_tmpfs) -> Path:
    """A directory this process cannot write: a read-only tmpfs mount as root, chmod 555 otherwise."""
    if ROOT:
        yield mount_tmpfs("1m", "ro")
        return
    d = tmp_path / "readonly"
    d.mkdir()
    d.chmod(0o555)
    yield d
    d.chmod(0o755)


# -- the durable writer ------------------------------------------------------------------------------
def test_atomic_writer_refuses_a_device_fifo_and_symlink(tmp_path, device):
    with pytest.raises(UnsafeOutputError, match=r"device|FIFO"):
        atomic_write_text(device, "x")
    assert _still_special(device)
    target = tmp_path / "precious.txt"
    target.write_text("keep")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    with pytest.raises(UnsafeOutputError, match="symlink"):
        atomic_write_text(link, "overwritten")
    assert link.is_symlink() and target.read_text() == "keep"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UnsafeOutputError, match="FIFO"):  # and it does not block on the pipe
        atomic_write_text(fifo, "x")
    atomic_write_text(tmp_path / "plain.txt", "a")
    atomic_write_text(tmp_path / "plain.txt", "b")  # regular files are replaced as before
    assert (tmp_path / "plain.txt").read_text() == "b"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")) == []


def test_weights_export_never_replaces_a_device(tmp_path, device, capsys):
    from vipflow.encoders import load_encoder, save_encoder

    with pytest.warns(UserWarning):
        enc = load_encoder("vip", arch="convnet-small", random_init=True)
    src = save_encoder(enc, tmp_path / "src.safetensors")
    assert main(["weights", "export", "vip", str(src), "--out", str(device)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and str(device) in err and len(err.strip().splitlines()) == 1
    assert _still_special(device)
    with pytest.raises(UnsafeOutputError):  # the library call refuses too, not only the CLI check
        save_encoder(enc, device)
    assert _still_special(device)


def test_evaluate_table_never_writes_beside_a_device(tmp_path, device, capsys):
    ledger = tmp_path / "ledger.json"
    ledger.write_text("{}")
    assert main(["evaluate", "table", str(ledger), "--out", str(device)]) == 2
    assert "error:" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["devnode", "ledger.json"]
    assert _still_special(device)


def test_episodes_sheet_writes_into_out(tmp_path, capsys):
    ep = write_episode(tmp_path / "data" / "episode_0000")
    out = tmp_path / "sheets"
    assert main(["episodes", "sheet", str(ep), "--out", str(out), "--frames", "4"]) == 0
    assert capsys.readouterr().out.strip() == str(out / "episode_0000.png")
    assert (out / "episode_0000.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the last release's positional OUT still writes exactly that file, with a deprecation warning
    old = tmp_path / "sheet_without_suffix"
    assert main(["episodes", "sheet", str(ep), str(old), "--frames", "4"]) == 0
    assert old.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not old.with_suffix(".png").exists()
    assert "positional OUT_FILE is deprecated" in capsys.readouterr().err


# -- every command checks its output before working -------------------------------------------------
def _problem_path(kind: str, tmp_path: Path, readonly: Path, dataset: Path) -> Path:
    if kind == "exists as a file":
        p = tmp_path / "taken"
        p.write_text("keep me")
        return p
    if kind == "parent is a file":
        (tmp_path / "afile").write_text("keep me")
        return tmp_path / "afile" / "out"
    if kind == "not writable":
        return readonly / "out"
    if kind == "too long":
        return tmp_path / ("x" * 300) / "out"
    if kind == "inside a dataset":
        return dataset
    if kind == "is a directory":
        p = tmp_path / "adir"
        p.mkdir()
        return p
    raise AssertionError(kind)


def _commands(out: Path, tmp: Path, dataset: Path) -> dict[str, list[str]]:
    """Each command with valid-looking inputs; the output problem must be the one reported."""
    w = str(tmp / "weights.safetensors")
    return {
        "train": ["train", str(dataset), "--encoder", "vip", "--encoder-weights", w, "--out", str(out),
                  "--cache-dir", str(tmp / "cache"), "--no-progress"],
        "rewards": ["rewards", str(dataset / "episode_0000"), "--random-init", "--encoder-arch",
                    "convnet-small", "--out", str(out)],
        "evaluate run": ["evaluate", "run", "--policy", str(tmp / "policy"), "--backend", "sim", "--task",
                         "slide_cabinet", "--no-rewards", "--out", str(out)],
        "demo": ["demo", "--out", str(out), "--no-progress"],
        "weights export": ["weights", "export", "vip", w, "--out", str(out)],
        "evaluate table": ["evaluate", "table", str(tmp / "ledger.json"), "--out", str(out)],
        "episodes sheet": ["episodes", "sheet", str(dataset / "episode_0000"), "--out", str(out)],
    }


# Every output is a folder (--out DIR, files inside it), issue 17.
DIR_OUTPUTS = ("train", "rewards", "evaluate run", "demo", "weights export", "evaluate table",
               "episodes sheet")
DIR_PROBLEMS = ("exists as a file", "parent is a file", "not writable", "too long", "inside a dataset")
CASES = [(c, p) for c in DIR_OUTPUTS for p in DIR_PROBLEMS]


@pytest.fixture(scope="module")
def shared_dataset(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("ds") / "dataset"
    write_episode(d / "episode_0000")
    from vipflow.episodes import write_manifest

    write_manifest(d)
    return d


@pytest.mark.parametrize(("command", "problem"), CASES)
def test_output_problem_is_one_line_before_any_work(command, problem, tmp_path, readonly_dir, shared_dataset,
                                                    capsys):
    out = _problem_path(problem, tmp_path, readonly_dir, shared_dataset)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    dataset_before = sorted(str(p) for p in shared_dataset.rglob("*"))
    code = main(_commands(out, tmp_path, shared_dataset)[command])
    err = capsys.readouterr().err
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in err, err
    assert str(out)[:60] in err  # names the path
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before  # nothing created (no cache, no run)
    assert sorted(str(p) for p in shared_dataset.rglob("*")) == dataset_before
    if problem == "exists as a file":
        assert out.read_text() == "keep me"


def test_train_into_the_dataset_itself_is_refused(shared_dataset):
    with pytest.raises(OutputPathError, match="inside the input"):
        check_output_dir(shared_dataset / "runs" / "r1", datasets=[shared_dataset])
    with pytest.raises(OutputPathError, match="episode dataset"):
        check_output_dir(shared_dataset)
    with pytest.raises(OutputPathError, match="episode dataset"):
        check_output_dir(shared_dataset / "episode_0000" / "x")
    assert check_output_dir(shared_dataset.parent / "runs" / "r1") == shared_dataset.parent / "runs" / "r1"


def test_output_file_checks_name_each_problem(tmp_path, readonly_dir):
    assert check_output_file(tmp_path / "new.png") == tmp_path / "new.png"
    with pytest.raises(OutputPathError, match="directory") as e:
        check_output_file(tmp_path)
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OutputPathError, match=r"read-only|not writable"):
        check_output_file(readonly_dir / "x.png")


# -- a full disk in `train` --------------------------------------------------------------------------
def test_full_disk_in_train_is_a_named_error_without_temporary_files(tmp_path, mount_tmpfs):
    from vipflow.encoders import load_encoder, save_encoder

    dataset = tmp_path / "dataset"
    for i in range(2):
        write_episode(dataset / f"episode_{i:04d}", ticks=15)
    with pytest.warns(UserWarning):
        enc = load_encoder("vip", arch="convnet-small", random_init=True)
    weights = save_encoder(enc, tmp_path / "enc.safetensors")
    run = mount_tmpfs("1m") / "run"  # a real 1 MB disk
    # a [512, 512] MLP: ~1 MB of weights + 2 MB of Adam moments per checkpoint > the 1 MB disk
    cmd = [sys.executable, "-m", "vipflow.cli.main", "train", str(dataset), "--encoder", "vip",
           "--encoder-weights", str(weights), "--cache-dir", str(tmp_path / "cache"), "--hidden", "512,512",
           "--steps", "20", "--save-every", "10", "--no-progress", "--out", str(run)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "SafetensorError" not in done.stderr
    assert "disk full" in done.stderr and "resume" in done.stderr
    leftovers = [p.name for p in (run / "checkpoints").iterdir()] if (run / "checkpoints").exists() else []
    assert not [n for n in leftovers if n.endswith(".tmp") or n.startswith(".tmp")], leftovers
    assert json.loads((run / "config.json").read_text())["train"]["steps"] == 20  # the run is resumable
