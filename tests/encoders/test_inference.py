"""Inference runtimes: compiled paths equal eager fp32, the compiled cache, precisions and the gate."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import vipflow
from vipflow.cli.main import build_parser
from vipflow.encoders import inference as inf
from vipflow.encoders import load_encoder
from vipflow.encoders.agreement import GATE, agreement, calibration_episodes, embed_episodes
from vipflow.encoders.compiled_cache import MANIFEST, CompiledCache
from vipflow.encoders.inference import PrecisionNotSupportedError, RuntimeNotAvailableError

KITCHEN = Path(vipflow.__file__).parent / "assets" / "kitchen_vip_no_slide_cabinet.safetensors"
BF16 = pytest.mark.skipif(not inf.native_bf16(torch.device("cpu")), reason="this CPU has no native bf16")
INT8 = pytest.mark.skipif(not inf.native_int8(torch.device("cpu")), reason="no int8 dot products on this CPU")


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def small(tmp_path, **kw):
    cache = tmp_path / "compiled"
    return load_encoder("vip", arch="convnet-small", random_init=True, compiled_cache=cache, **kw)


@pytest.mark.parametrize(
    ("family", "arch", "size", "runtime"),
    [
        ("vip", "convnet-small", 64, "openvino"),
        ("vip", "convnet-small", 64, "onnxruntime"),
        ("r3m", "convnet-small", 72, "openvino"),
        pytest.param("vip", "resnet18", 96, "openvino", marks=pytest.mark.slow),
    ],
)
def test_compiled_fp32_equals_eager_for_any_batch(tmp_path, runtime, family, arch, size):
    frames = np.random.default_rng(1).integers(0, 256, (3, size, size, 3), dtype=np.uint8)
    eager = load_encoder(family, arch=arch, random_init=True)
    ref = eager.embed_images(frames)
    fast = eager.with_inference(runtime, "fp32")
    assert fast.inference_tag == f"{runtime}-fp32"
    assert rel_diff(fast.embed_images(frames, batch_size=3), ref) <= 1e-5
    assert rel_diff(fast.embed_images(frames, batch_size=1), ref) <= 1e-5  # dynamic batch


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["openvino", "onnxruntime"])
def test_liv_image_and_text_towers_compile(runtime):
    frames = np.random.default_rng(2).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    liv = load_encoder("liv", random_init=True)
    fast = liv.with_inference(runtime, "fp32")
    assert rel_diff(fast.embed_images(frames), liv.embed_images(frames)) <= 1e-5
    texts = ["close the drawer", "fold the towel on the table"]
    assert rel_diff(fast.embed_text(texts), liv.embed_text(texts)) <= 1e-5
    if runtime == "openvino" and inf.native_int8(torch.device("cpu")):  # int8 quantizes image towers only
        int8 = liv.with_inference(runtime, "int8")
        np.testing.assert_array_equal(int8.embed_text(texts), fast.embed_text(texts))


@pytest.mark.slow
def test_resnet50_family_compiles():
    frames = np.random.default_rng(3).integers(0, 256, (2, 240, 320, 3), dtype=np.uint8)  # resize + crop
    enc = load_encoder("resnet50", random_init=True)
    fast = enc.with_inference("openvino", "fp32")
    assert rel_diff(fast.embed_images(frames), enc.embed_images(frames)) <= 1e-5


def test_second_start_uses_the_cache_and_a_corrupt_entry_is_rebuilt(tmp_path, monkeypatch, caplog):
    frames = np.random.default_rng(4).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    first = small(tmp_path, runtime="openvino", precision="fp32")
    ref = first.embed_images(frames)
    entries = list((tmp_path / "compiled").glob("*/*/" + MANIFEST))
    assert len(entries) == 1
    blob = entries[0].parent / "model.blob"

    def no_build(*args):
        raise AssertionError("compiled again although the cache holds the model")

    with monkeypatch.context() as m:  # a second start (new encoder, same weights) only loads
        m.setitem(inf._BUILD, "openvino", no_build)
        second = small(tmp_path, runtime="openvino", precision="fp32")
        np.testing.assert_array_equal(second.embed_images(frames), ref)

    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: checksum mismatch
    blob.write_bytes(bytes(data))
    again = small(tmp_path, runtime="openvino", precision="fp32")
    with caplog.at_level(logging.WARNING):
        np.testing.assert_array_equal(again.embed_images(frames), ref)
    assert again.compiled_cache.rebuilt == 1 and "corrupt" in caplog.text and "model.blob" in caplog.text

    (entries[0].parent / MANIFEST).write_text("{not json")  # a torn manifest
    third = small(tmp_path, runtime="openvino", precision="fp32")
    np.testing.assert_array_equal(third.embed_images(frames), ref)
    assert third.compiled_cache.rebuilt == 1
    json.loads((entries[0].parent / MANIFEST).read_text())  # rebuilt whole


def test_weights_change_rebuilds_the_compiled_model(tmp_path):
    frames = np.random.default_rng(5).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    enc = small(tmp_path, runtime="onnxruntime", precision="fp32")
    before = enc.embed_images(frames)
    with torch.no_grad():
        enc.module.convnet.fc.bias.add_(1.0)
    np.testing.assert_allclose(enc.embed_images(frames), before + 1.0, rtol=1e-5, atol=1e-5)
    fc = enc.module.convnet.fc  # a parameter replaced, not modified: rebuilt as well
    fc.bias = torch.nn.Parameter(fc.bias.detach() + 1.0)
    np.testing.assert_allclose(enc.embed_images(frames), before + 2.0, rtol=1e-5, atol=1e-5)
    swapped = torch.nn.Linear(fc.in_features, fc.out_features)  # a submodule swapped: rebuilt too
    with torch.no_grad():
        swapped.weight.copy_(fc.weight)
        swapped.bias.copy_(fc.bias + 1.0)
    enc.module.convnet.fc = swapped
    np.testing.assert_allclose(enc.embed_images(frames), before + 3.0, rtol=1e-5, atol=1e-5)


def test_cache_off_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    enc = load_encoder(
        "vip", arch="convnet-small", random_init=True, runtime="onnxruntime", compiled_cache="off"
    )
    assert enc.embed_images(np.zeros((1, 32, 32, 3), np.uint8)).shape == (1, 1024)
    assert not any(tmp_path.iterdir()) and not CompiledCache("off").enabled


def test_runtime_and_precision_choices_are_checked(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="unknown runtime 'tensorrt'"):
        small(tmp_path, runtime="tensorrt")
    with pytest.raises(PrecisionNotSupportedError, match=r"onnxruntime.*no bf16.*openvino"):
        small(tmp_path, runtime="onnxruntime", precision="bf16")
    with pytest.raises(PrecisionNotSupportedError, match="fp16 needs a GPU"):
        small(tmp_path, runtime="openvino", precision="fp16")
    with pytest.raises(RuntimeNotAvailableError, match="float32 encoders on the CPU"):
        small(tmp_path, runtime="openvino", dtype=torch.float16)
    assert small(tmp_path, runtime="auto", dtype=torch.float16).runtime == "eager"
    monkeypatch.setattr(inf, "installed", lambda runtime: runtime == "eager")
    assert small(tmp_path, runtime="auto").runtime == "eager"
    with pytest.raises(RuntimeNotAvailableError, match="pip install openvino"):
        small(tmp_path, runtime="openvino")


@INT8
def test_int8_is_quantized_once_on_the_calibration_set_and_cached(tmp_path, monkeypatch):
    """int8 by name: OpenVINO quantizes the image tower (NNCF) on the calibration set at the
    model's input size (non-square here), close to fp32; a second start imports the cached blob
    without quantizing again."""
    frames = np.random.default_rng(7).integers(0, 256, (4, 48, 64, 3), dtype=np.uint8)
    ref = small(tmp_path, runtime="eager").embed_images(frames)
    enc = small(tmp_path, runtime="auto", precision="int8")
    assert enc.inference_tag == "openvino-int8"
    calibrated, original = [], type(enc)._calibration_inputs
    monkeypatch.setattr(type(enc), "_calibration_inputs",
                        lambda self, size: calibrated.append(size) or original(self, size))
    got = enc.embed_images(frames)
    assert calibrated == [(48, 64)]
    assert 0 < rel_diff(got, ref) <= 0.05  # quantized: not fp32, but close
    again = small(tmp_path, runtime="openvino", precision="int8")
    np.testing.assert_allclose(again.embed_images(frames), got, rtol=0, atol=1e-6)
    assert calibrated == [(48, 64)] and again.compiled_cache.rebuilt == 0


def test_int8_is_refused_where_it_cannot_run(tmp_path, monkeypatch):
    monkeypatch.setattr(inf, "cpu_flags", lambda: frozenset({"avx2", "avx512_vnni"}))
    with pytest.raises(PrecisionNotSupportedError, match=r"int8: runtime 'onnxruntime' does not quantize"):
        small(tmp_path, runtime="onnxruntime", precision="int8")
    with pytest.raises(PrecisionNotSupportedError, match=r"int8: runtime 'eager' does not quantize"):
        small(tmp_path, runtime="eager", precision="int8")
    installed = inf.installed
    monkeypatch.setattr(inf, "installed", lambda name: name != "nncf" and installed(name))
    with pytest.raises(RuntimeNotAvailableError, match="NNCF, which is not installed: pip install nncf"):
        small(tmp_path, runtime="openvino", precision="int8")
    monkeypatch.setattr(inf, "cpu_flags", lambda: frozenset({"sse4_2", "avx2", "fma"}))
    with pytest.raises(PrecisionNotSupportedError, match=r"no int8 dot-product instructions.*fp32, or auto"):
        small(tmp_path, runtime="openvino", precision="int8")


TELEMETRY_PROBE = """
import multiprocessing, sys
import numpy as np
starts = []
start = multiprocessing.Process.start
multiprocessing.Process.start = lambda self: starts.append(self) or start(self)
from vipflow.encoders import load_encoder
enc = load_encoder("vip", arch="convnet-small", random_init=True, runtime="openvino", precision="int8",
                   compiled_cache=sys.argv[1])
enc.embed_images(np.zeros((2, 32, 32, 3), np.uint8))
from nncf.telemetry import wrapper
print(isinstance(wrapper.telemetry, wrapper.NNCFTelemetryStub), [p.name for p in starts])
"""


@INT8
def test_int8_quantization_sends_no_telemetry(tmp_path):
    """NNCF reports usage to the network from forked processes unless told not to, and stays quiet
    on its own only under pytest: so a child process quantizes, as the CLI or a node would."""
    env = {k: v for k, v in os.environ.items() if k not in ("NNCF_CI", "NNCF_DEV")}
    env["HOME"] = str(tmp_path)  # where its client id would be written
    done = subprocess.run([sys.executable, "-c", TELEMETRY_PROBE, str(tmp_path / "compiled")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "True []"  # the stub, and no process started
    assert not (tmp_path / "intel").exists()


def test_cpu_without_native_bf16_refuses_bf16_and_auto_picks_fp32(tmp_path, monkeypatch, caplog):
    """An AVX2-only CPU (the earlier AMD EPYC): bf16 is refused with the fix, auto runs fp32 exactly."""
    monkeypatch.setattr(inf, "cpu_flags", lambda: frozenset({"sse4_2", "avx2", "fma"}))
    with pytest.raises(PrecisionNotSupportedError, match=r"no native bf16.*use fp32, or auto"):
        small(tmp_path, runtime="openvino", precision="bf16")
    enc = small(tmp_path, runtime="auto", precision="auto")
    with caplog.at_level(logging.INFO):
        assert enc.inference_tag == "onnxruntime-fp32"  # the fastest exact path, no calibration run
    assert "bf16 needs native support" in caplog.text
    assert not list((tmp_path / "compiled").glob("**/decision.json"))
    assert small(tmp_path, runtime="auto", precision="fp32").runtime == "onnxruntime"


EMBEDDING_COMMANDS = (["rewards", "x.mp4"], ["train", "d"], ["demo"], ["evaluate", "run", "--policy", "p"])


def _action(argv: list[str], flag: str):
    parser = build_parser()
    for word in argv:  # walk down to the subcommand's parser
        sub = next((a for a in parser._actions if a.choices and word in a.choices), None)
        if sub is not None and not isinstance(sub.choices, tuple):
            parser = sub.choices[word]
    return next(a for a in parser._actions if flag in a.option_strings)


@pytest.mark.parametrize("argv", EMBEDDING_COMMANDS, ids=lambda a: a[0])
def test_every_embedding_command_has_the_one_runtime_and_precision_option(argv, capsys):
    runtime, precision = _action(argv, "--runtime"), _action(argv, "--precision")
    assert tuple(runtime.choices) == (*inf.RUNTIMES, inf.AUTO)
    assert tuple(precision.choices) == (*inf.PRECISIONS, inf.AUTO)
    assert "agreement gate" in precision.help and "(default: " in precision.help
    args = build_parser().parse_args([*argv, "--runtime", "openvino", "--precision", "bf16"])
    assert (args.encoder_runtime, args.encoder_precision) == ("openvino", "bf16")
    with pytest.raises(SystemExit):
        build_parser().parse_args([*argv, "--precision", "int4"])
    assert "argument --precision: 'int4' is not one of" in capsys.readouterr().err


def test_agreement_metrics():
    rng = np.random.default_rng(6)
    ref = [np.cumsum(rng.normal(size=(20, 8)), axis=0) for _ in range(3)]
    same = agreement(ref, ref, "l2", ["success", "success", "failure"])
    assert same.passes() and same.value_spearman == pytest.approx(1.0)
    assert same.delta_voc == same.max_episode_delta_voc == same.delta_bump_rate == 0.0
    assert same.delta_auroc == 0.0 and same.max_rel_diff == 0.0 and same.frames == 60
    noisy = [e + rng.normal(scale=2.0, size=e.shape) for e in ref]
    worse = agreement(ref, noisy, "l2", ["success", "success", "failure"])
    assert not worse.passes() and worse.value_spearman < GATE.min_value_spearman
    assert worse.as_dict()["passes_gate"] is False


@BF16
def test_auto_gate_takes_bf16_on_the_kitchen_encoder(tmp_path):
    """The shipped (trained) kitchen encoder: OpenVINO bf16 passes the gate, so auto takes it."""
    enc = load_encoder("vip", KITCHEN, runtime="openvino", precision="auto", compiled_cache=tmp_path)
    assert enc.precision == "bf16"
    decision = json.loads(next(tmp_path.glob("**/decision.json")).read_text())
    report = decision["reports"]["bf16"]
    assert report["passes_gate"] and report["value_spearman"] >= GATE.min_value_spearman
    assert abs(report["delta_voc"]) <= GATE.max_abs_delta_voc
    # and the decision is remembered: a second start reads it instead of calibrating again
    again = load_encoder("vip", KITCHEN, runtime="openvino", precision="auto", compiled_cache=tmp_path)
    assert again.precision == "bf16" and again.compiled_cache.rebuilt == 0


@BF16
def test_auto_gate_refuses_a_precision_that_reorders_values(tmp_path):
    """Eager bf16 (every activation rounded) on a random small network, whose values differ by
    ~0.1 %: the ranking breaks, the gate fails and auto stays at fp32."""
    enc = small(tmp_path, runtime="eager")
    episodes, labels = calibration_episodes(96)
    ref = embed_episodes(enc, episodes)
    bf16 = agreement(ref, embed_episodes(enc.with_inference(precision="bf16"), episodes), "l2", labels)
    assert not bf16.passes()
    assert enc.with_inference(precision="auto").precision == "fp32"


def test_auto_runs_the_text_tower_eagerly(tmp_path):
    """A goal sentence is embedded once: under auto, LIV's text tower is not compiled."""
    liv = load_encoder("liv", random_init=True, runtime="auto", precision="auto", compiled_cache=tmp_path)
    exact = liv.with_inference("eager", "fp32").embed_text(["open the microwave"])
    np.testing.assert_array_equal(liv.embed_text(["open the microwave"]), exact)
    assert not any(tmp_path.iterdir())


def test_read_only_frames_embed_without_a_warning():
    """Frames from a ROS message or a memory map are read-only; torch warns (once per process, so
    in a child process here) about tensors over them, though embedding only reads them."""
    code = (
        "import warnings, numpy as np\n"
        "warnings.simplefilter('error')\n"
        "from vipflow.encoders import load_encoder\n"
        "with warnings.catch_warnings():\n"
        "    warnings.simplefilter('ignore')\n"
        "    enc = load_encoder('vip', arch='convnet-small', random_init=True)\n"
        "frames = np.frombuffer(bytes(2 * 32 * 32 * 3), np.uint8).reshape(2, 32, 32, 3)\n"
        "assert not frames.flags.writeable\n"
        "print(enc.embed_images(frames).shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "(2, 1024)" and "not writable" not in done.stderr
