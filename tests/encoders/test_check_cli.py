"""`vipflow encoders check` on recorded frames and on the built-in calibration set."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vipflow.cli.main import main
from vipflow.encoders import inference as inf


def test_check_reports_agreement_per_path(tmp_path, capsys):
    import cv2

    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        base = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
        for t in range(8):
            frame = base.copy()
            frame[:, : 6 * t] = 255 - frame[:, : 6 * t]  # progress: a door opening
            cv2.imwrite(str(folder / f"frame_{t}.png"), frame)
    out = tmp_path / "check.json"
    code = main(["encoders", "check", str(tmp_path / "a"), str(tmp_path / "b"), "--encoder", "vip",
                 "--encoder-arch", "convnet-small", "--random-init", "--runtime", "onnxruntime", "eager",
                 "--precision", "fp32", "--set-labels", "success", "failure", "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    (row,) = report["results"]  # eager fp32 is the reference itself, not a candidate
    assert (row["runtime"], row["precision"]) == ("onnxruntime", "fp32")
    assert row["max_rel_diff"] <= 1e-5 and row["passes_gate"] and row["frames"] == 16
    assert row["delta_auroc"] == 0.0 and report["labels"] == ["success", "failure"]
    assert set(report["cpu_flags"]) <= set(inf.ISA_FLAGS)
    assert "onnxruntime-fp32" in capsys.readouterr().out


@pytest.mark.skipif(not inf.native_bf16(torch.device("cpu")), reason="this CPU has no native bf16")
def test_check_without_inputs_uses_the_calibration_set(capsys):
    code = main(["encoders", "check", "--encoder", "vip", "--encoder-arch", "convnet-small", "--random-init",
                 "--runtime", "onnxruntime", "--precision", "bf16"])
    assert code == 0
    text = capsys.readouterr().out
    assert "144 frames in 6 episodes" in text and "skipped: precision bf16" in text


def test_check_names_a_bad_input(tmp_path, capsys):
    missing = str(tmp_path / "missing.mp4")
    code = main(["encoders", "check", missing, "--random-init", "--encoder-arch", "convnet-small"])
    assert code == 2 and "does not exist" in capsys.readouterr().err
