"""Inference runtimes for an encoder tower: PyTorch eager (the reference), OpenVINO, ONNX Runtime.

A *runner* takes the tower's model input (normalised NCHW images, or LIV token ids) and returns
float32 embeddings. Eager runs a frozen eval copy of the module in the chosen dtype. The compiled
runtimes start from a float32 eval copy and keep what they compiled in the on-disk cache
(compiled_cache.py), so only the first start pays for the conversion. Both read an ONNX export
of the tower (``torch.onnx.export``; 5x quicker than the ``torch.export`` ->
``openvino.convert_model`` route here, and one format for both):

* ``openvino``: ONNX -> compiled for the CPU with an explicit inference-precision hint (``f32``
  or ``bf16``); the cache holds the compiled blob (``export_model``), which imports in a fraction
  of a second. bf16 only where the CPU has it natively (AVX512-BF16 / AMX-BF16).
* ``openvino`` ``int8``: the ONNX model quantized after training (NNCF) on the agreement gate's
  built-in calibration set (agreement.py) at the model's input size: weights and activations int8
  (VNNI / AMX-INT8 kernels) except the first and the last weighted layer (convolution or matrix
  product), which stay in bf16 (f32 without native bf16); activation ranges are the calibration
  set's min-max. Both choices are what makes a random ResNet-50 pass the gate on the calibration
  set (value Spearman 0.9989 without them, 0.9998 with). Only image towers are quantized; LIV's
  text tower runs fp32 under int8. ``auto`` never picks int8 (FAST_PRECISIONS).
* ``onnxruntime``: ONNX -> CPU execution provider, fp32 only (it has no bf16 kernels on the CPU).

The input's other dimensions are fixed per compiled model (the cache key holds them): every tower
sees one model-input size after preprocessing. Batches of one (a control loop's frames) get a
model compiled for exactly one, 5-10 % faster than the dynamic-batch model every other batch size
uses (bench/encoder's interleaved runs).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import platform
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from vipflow.encoder_inference import AUTO, PRECISIONS, RUNTIMES
from vipflow.encoders.compiled_cache import CompiledCache, CorruptEntryError
from vipflow.encoders.errors import EncoderError
from vipflow.encoders.signal_stack import keep_signal_stack

log = logging.getLogger(__name__)

# `auto` runtime, for a float32 module on the CPU (else eager): the first one installed of these.
# A fast precision (native bf16/int8, asked for or possible under auto precision): OpenVINO, the
# only one with bf16 and int8 kernels here. fp32: ONNX Runtime, 10-15 % faster than OpenVINO at
# fp32 (bench/encoder).
AUTO_ORDER = {"fast": ("openvino", "onnxruntime"), "fp32": ("onnxruntime", "openvino")}
# `auto` precision tries these, fastest first (bench/encoder), before falling back to fp32. Not
# int8: it passes the gate on the synthetic calibration set and fails it on real frames with a
# ResNet-50 (docs/encoders.md), so it is chosen by name, after `vipflow encoders check`.
FAST_PRECISIONS = ("bf16",)
TORCH_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
_PIP = {"openvino": "openvino", "onnxruntime": "onnxruntime"}
_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
_INT8_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")  # int8 dot products in hardware
INT8_RECIPE = 1  # part of int8 cache keys: change it when _quantize changes


class RuntimeNotAvailableError(EncoderError):
    """The requested inference runtime is not installed or cannot run on this device."""


class PrecisionNotSupportedError(EncoderError, ValueError):
    """The requested precision has no native support on this device/runtime."""


class Runner(Protocol):
    def __call__(self, x: torch.Tensor) -> np.ndarray: ...


def _version(t: torch.Tensor) -> int:
    # Inference tensors (made under torch.inference_mode) have no version counter.
    return 0 if t.is_inference() else t._version


class WeightsVersion:
    """A cheap key that changes whenever a parameter or buffer of ``module`` is modified in place or
    replaced, or a submodule is swapped (e.g. BatchNorm -> SyncBatchNorm); checked on every
    embedding call, so compiled models never outlive their weights.

    The submodule tree is walked again only when a submodule was swapped: walking it on every call
    (``module.parameters()``) cost 1.0-1.4 ms per call for a ResNet-50, this ~0.3 ms.
    """

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self._walk()

    def _walk(self) -> None:
        # Holding the modules keeps their ids unique while they are compared.
        self._modules = list(self.module.modules())
        self._structure = self._children()

    def _children(self) -> tuple:
        return tuple(id(child) for m in self._modules for child in m._modules.values())

    def __call__(self) -> tuple:
        if self._children() != self._structure:
            self._walk()
        return tuple((t.data_ptr(), _version(t)) for m in self._modules for d in (m._parameters, m._buffers)
                     for t in d.values() if t is not None)


@functools.cache
def _cpuinfo(field: str) -> str:
    """The first ``field`` of Linux /proc/cpuinfo ('' elsewhere, or where it has none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    for line in text.splitlines():
        name, colon, value = line.partition(":")
        if colon and name.strip() == field:
            return value.strip()
    return ""


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere)."""
    return frozenset(_cpuinfo("flags").split())


def cpu_model() -> str:
    """The CPU's name ("Intel(R) Xeon(R) ..."): the same flags can come with very different speeds."""
    return _cpuinfo("model name") or platform.processor()


# The instruction sets that decide inference speed; what benchmarks and reports record.
ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
             "amx_bf16", "amx_int8")


def isa_flags() -> frozenset[str]:
    return cpu_flags() & frozenset(ISA_FLAGS)


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 arithmetic runs natively here (AMX/AVX512-BF16 CPUs, Ampere+ GPUs)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return any(flag in cpu_flags() for flag in _BF16_FLAGS)


def native_int8(device: torch.device) -> bool:
    """Whether this CPU has int8 dot-product instructions (without them OpenVINO's int8 is no gain)."""
    return device.type == "cpu" and any(flag in cpu_flags() for flag in _INT8_FLAGS)


def native_fast_precisions(device: torch.device) -> tuple[str, ...]:
    """The faster-than-fp32 precisions this device runs natively."""
    return (*(("bf16",) if native_bf16(device) else ()), *(("int8",) if native_int8(device) else ()))


def installed(runtime: str) -> bool:
    return runtime == "eager" or importlib.util.find_spec(runtime) is not None


def runtime_version(runtime: str) -> str:
    return torch.__version__ if runtime == "eager" else importlib.metadata.version(_PIP[runtime])


def resolve_runtime(requested: str, device: torch.device, dtype: torch.dtype, precision: str) -> str:
    """``auto`` -> a concrete runtime for ``precision`` (which may be ``auto``); a named one is
    checked (installed, CPU float32 module)."""
    if requested not in (*RUNTIMES, AUTO):
        raise ValueError(f"unknown runtime {requested!r}; choose one of {', '.join((*RUNTIMES, AUTO))}")
    compiled_ok = device.type == "cpu" and dtype == torch.float32
    if requested == AUTO:
        native = native_fast_precisions(device)
        fast = precision in native or (precision == AUTO and any(p in native for p in FAST_PRECISIONS))
        order = AUTO_ORDER["fast" if fast else "fp32"]
        return next((r for r in order if compiled_ok and installed(r)), "eager")
    if requested != "eager":
        if not compiled_ok:
            raise RuntimeNotAvailableError(
                f"runtime {requested!r} runs float32 encoders on the CPU; this one is {dtype} on {device}. "
                "Use runtime 'eager' (or 'auto') there"
            )
        if not installed(requested):
            raise RuntimeNotAvailableError(
                f"runtime {requested!r} is not installed: pip install {_PIP[requested]} "
                "(or use runtime 'auto')"
            )
    return requested


def supported_precisions(runtime: str, device: torch.device) -> tuple[str, ...]:
    """Precisions with native support for this runtime on this device, fp32 first."""
    bf16 = ("bf16",) if native_bf16(device) else ()
    if runtime == "openvino":
        return ("fp32", *bf16, *(("int8",) if native_int8(device) else ()))
    if runtime == "onnxruntime":
        return ("fp32",)
    return ("fp32", *bf16, *(("fp16",) if device.type == "cuda" else ()))


def check_precision(runtime: str, precision: str, device: torch.device) -> None:
    """Refuse a precision this runtime/device would only emulate, saying what to use instead."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join((*PRECISIONS, AUTO))}")
    if precision in supported_precisions(runtime, device):
        if precision == "int8" and not installed("nncf"):
            raise RuntimeNotAvailableError("precision int8 quantizes with NNCF, which is not installed: "
                                           "pip install nncf")
        return
    if precision == "bf16" and not native_bf16(device):
        why = (f"this CPU has no native bf16 (none of the flags {', '.join(_BF16_FLAGS)})"
               if device.type == "cpu" else f"{device} has no native bf16")
        raise PrecisionNotSupportedError(f"precision bf16: {why}; use fp32, or auto (picks fp32 here)")
    if precision == "bf16":
        raise PrecisionNotSupportedError(
            f"precision bf16: runtime {runtime!r} has no bf16 kernels on the CPU; use runtime openvino"
        )
    if precision == "int8" and not native_int8(device):
        why = (f"this CPU has no int8 dot-product instructions (none of the flags {', '.join(_INT8_FLAGS)})"
               if device.type == "cpu" else "int8 runs on the CPU only")
        raise PrecisionNotSupportedError(f"precision int8: {why}; use fp32, or auto")
    if precision == "int8" and runtime != "openvino":
        raise PrecisionNotSupportedError(
            f"precision int8: runtime {runtime!r} does not quantize; use runtime openvino"
        )
    raise PrecisionNotSupportedError(
        f"precision {precision} needs a GPU (runtime eager, device cuda); on the CPU use fp32 or bf16"
    )


# --- eager -------------------------------------------------------------------------------------

class EagerRunner:
    """A frozen eval copy of the module, so the module's train/eval mode never leaks in.

    ``frozen_copy=False`` runs the module itself when it already has the dtype (LIV's text tower:
    no BatchNorm or dropout, and a copy would duplicate the whole CLIP model).
    """

    def __init__(
        self, module: nn.Module, dtype: torch.dtype, device: torch.device, *, frozen_copy: bool
    ) -> None:
        self.dtype = dtype
        if not frozen_copy and next(module.parameters()).dtype == dtype:
            self.net = module
        else:
            self.net = copy.deepcopy(module).eval().to(device, dtype).to(memory_format=torch.channels_last)

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            x = x.to(self.dtype) if x.is_floating_point() else x
            return self.net(x).float().cpu().numpy()


# --- compiled ------------------------------------------------------------------------------------

def _example(x: torch.Tensor) -> torch.Tensor:
    """The export example: ``x`` itself for a batch-1 model; else a batch of 2 (a batch of 1 would
    let the exporter fix the batch size)."""
    return x if len(x) == 1 else x[:1].expand(2, *x.shape[1:]).contiguous()


def _float_copy(module: nn.Module) -> nn.Module:
    return copy.deepcopy(module).float().eval().to(memory_format=torch.contiguous_format)


def _numpy(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().cpu().numpy())


def _openvino_config(precision: str, threads: int) -> dict:
    # int8: the layers left unquantized (the first and the last) run bf16 where native.
    bf16 = precision == "bf16" or (precision == "int8" and native_bf16(torch.device("cpu")))
    hint = "bf16" if bf16 else "f32"
    return {
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": threads,
        # Do not pin threads to cores: the control loop shares them (torch does not pin either).
        "ENABLE_CPU_PINNING": False,
        # Always explicit, also when importing a compiled blob: on AMX CPUs OpenVINO's CPU default
        # is bf16, and an import without the hint silently runs bf16 whatever was compiled.
        "INFERENCE_PRECISION_HINT": hint,
    }


class OpenVinoRunner:
    def __init__(self, compiled) -> None:
        self.request = compiled.create_infer_request()
        self.lock = threading.Lock()  # one infer request: one caller at a time

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        with self.lock:
            out = self.request.infer({0: _numpy(x)})[0]
            return np.array(out, dtype=np.float32)


def _import_quietly(name: str):
    """Import ``openvino`` or ``nncf`` without usage telemetry: with openvino_telemetry installed
    (an OpenVINO dependency), ``import openvino`` sends an event, and NNCF builds a client that
    sends its own, each from a forked process, from a lab's control PC, unless told otherwise.
    Both decline in CI, so the import runs with ``CI=true`` (put back at once, as other tools read
    it); ``NNCF_CI`` makes NNCF keep a stub afterwards, and does nothing else."""
    if name in sys.modules:
        return sys.modules[name]
    os.environ["NNCF_CI"] = "1"
    ci = os.environ.get("CI")
    os.environ["CI"] = "true"
    try:
        return importlib.import_module(name)
    finally:
        if ci is None:
            del os.environ["CI"]
        else:
            os.environ["CI"] = ci


_QUANTIZE_LOCK = threading.Lock()  # one quantization at a time


def _quantize(model, inputs: np.ndarray):
    """int8 post-training quantization (NNCF) of an OpenVINO model on ``inputs`` (model inputs,
    one calibration sample per row); see the module docstring for the two choices made. NNCF is
    imported without its usage telemetry (`_import_quietly`)."""
    weighted = [op.get_friendly_name() for op in model.get_ordered_ops()
                if op.get_type_name() in ("Convolution", "MatMul")]
    samples = [inputs[i : i + 1] for i in range(len(inputs))]
    # Importing NNCF imports torch's extension builder, which warns that this machine has no CUDA;
    # NNCF's INFO lines (its logger's level is set by its import) list every layer it leaves alone.
    cpp_extension, nncf_log = logging.getLogger("torch.utils.cpp_extension"), logging.getLogger("nncf")
    with _QUANTIZE_LOCK:  # the loggers' levels are process-wide
        levels = {cpp_extension: cpp_extension.level, nncf_log: nncf_log.level}
        try:
            cpp_extension.setLevel(logging.ERROR)
            nncf = _import_quietly("nncf")
            from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
            from nncf.quantization.range_estimator import RangeEstimatorParametersSet

            nncf_log.setLevel(logging.WARNING)
            return nncf.quantize(
                model, nncf.Dataset(samples), subset_size=len(samples),
                ignored_scope=nncf.IgnoredScope(names=[weighted[0], weighted[-1]]),
                advanced_parameters=AdvancedQuantizationParameters(
                    activations_range_estimator_params=RangeEstimatorParametersSet.MINMAX
                ),
            )
        finally:
            for logger, level in levels.items():
                logger.setLevel(level)


def _build_openvino(
    module: nn.Module, example: torch.Tensor, precision: str, threads: int, out: Path,
    calibration: Callable[[], np.ndarray] | None,
) -> None:
    ov = _import_quietly("openvino")

    onnx_path = out / "model.onnx"
    _export_onnx(module, example, onnx_path)
    core = ov.Core()
    model = core.read_model(str(onnx_path))
    model.reshape({model.input(0): ov.PartialShape([1 if len(example) == 1 else -1, *example.shape[1:]])})
    if precision == "int8":
        model = _quantize(model, calibration())
    compiled = core.compile_model(model, "CPU", _openvino_config(precision, threads))
    keep_signal_stack()
    (out / "model.blob").write_bytes(compiled.export_model().getbuffer())
    onnx_path.unlink()


def _load_openvino(entry: Path, precision: str, threads: int) -> OpenVinoRunner:
    ov = _import_quietly("openvino")

    blob = (entry / "model.blob").read_bytes()
    compiled = ov.Core().import_model(blob, "CPU", _openvino_config(precision, threads))
    keep_signal_stack()
    return OpenVinoRunner(compiled)


class OnnxRuntimeRunner:
    def __init__(self, session) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        return np.asarray(self.session.run(None, {self.input_name: _numpy(x)})[0], dtype=np.float32)


def _export_onnx(module: nn.Module, example: torch.Tensor, path: Path) -> None:
    """ONNX, the one intermediate format both compiled runtimes read; the batch size is fixed for
    a batch-1 example, dynamic otherwise."""
    with warnings.catch_warnings():
        # The TorchScript-based exporter (dynamo=False) warns that it is deprecated; the
        # torch.export-based one needs the onnxscript package. Both write plain ONNX, and the
        # tests hold the result to the eager reference.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        # CLIP's text pooling indexes with argmax positions, which are never negative.
        warnings.filterwarnings("ignore", "Exporting aten::index operator", UserWarning)
        torch.onnx.export(
            _float_copy(module), (example,), str(path), dynamo=False,
            input_names=["input"], output_names=["embedding"], opset_version=17,
            dynamic_axes=None if len(example) == 1 else {"input": {0: "batch"}, "embedding": {0: "batch"}},
        )


def _build_onnxruntime(
    module: nn.Module, example: torch.Tensor, precision: str, threads: int, out: Path,
    calibration: Callable[[], np.ndarray] | None,
) -> None:
    _export_onnx(module, example, out / "model.onnx")


def _load_onnxruntime(entry: Path, precision: str, threads: int) -> OnnxRuntimeRunner:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle worker threads must sleep, not spin: the control loop needs those cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(entry / "model.onnx"), options, providers=["CPUExecutionProvider"])
    return OnnxRuntimeRunner(session)


_BUILD = {"openvino": _build_openvino, "onnxruntime": _build_onnxruntime}
_LOAD = {"openvino": _load_openvino, "onnxruntime": _load_onnxruntime}


def _int8_key() -> dict:
    """What else decides an int8 model: our recipe and NNCF's version (its defaults change)."""
    return {"int8_recipe": INT8_RECIPE, "nncf": importlib.metadata.version("nncf")}


def cpu_digest() -> str:
    """Compiled code is specific to the CPU's instruction sets: part of every cache key."""
    return hashlib.sha256(" ".join(sorted(cpu_flags())).encode()).hexdigest()[:16]


def build_runner(
    runtime: str,
    precision: str,
    module: nn.Module,
    x: torch.Tensor,
    *,
    device: torch.device,
    cache: CompiledCache,
    key: dict,
    frozen_copy: bool = True,
    calibration: Callable[[], np.ndarray] | None = None,
) -> Runner:
    """A runner for ``module`` on inputs shaped like ``x``: batches of one if ``x`` is one, else
    any batch size.

    ``key`` names the tower (encoder fingerprint, tower name); runtime, precision, input shape,
    batch and CPU are added here. Compiled entries come from ``cache`` (built on a miss).
    ``calibration`` gives int8's calibration samples (model inputs shaped like ``x[0]``), called
    only when an int8 model is built; ``key`` must then name the calibration set's version.
    """
    if runtime == "eager":
        return EagerRunner(module, TORCH_DTYPES[precision], device, frozen_copy=frozen_copy)
    threads = torch.get_num_threads()
    key = {**key, "runtime": runtime, "version": runtime_version(runtime), "precision": precision,
           "input": [*x.shape[1:]], "batch": 1 if len(x) == 1 else "dynamic", "input_dtype": str(x.dtype),
           "cpu": cpu_digest(), **(_int8_key() if precision == "int8" else {})}
    example = _example(x)

    def build(folder: Path) -> None:
        log.info("compiling %s for %s %s, input %s (once; cached)", key.get("tower"), runtime, precision,
                 tuple(x.shape[1:]))
        _BUILD[runtime](module, example, precision, threads, folder, calibration)

    with tempfile.TemporaryDirectory(prefix="vipflow-compile-") as scratch:
        entry = cache.get_or_build(key, build, Path(scratch))
        try:
            return _LOAD[runtime](entry, precision, threads)
        except Exception as exc:  # verified files the runtime still refuses: rebuild once
            if not cache.enabled:
                raise
            cache.discard(entry, CorruptEntryError(f"{runtime} could not load it: {exc}"))
            return _LOAD[runtime](cache.get_or_build(key, build), precision, threads)
