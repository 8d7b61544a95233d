"""`Encoder`: frames (and, for LIV, sentences) -> embeddings, plus `load_encoder` / `save_encoder`."""

from __future__ import annotations

import copy
import hashlib
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from vipflow.encoders.agreement import CALIBRATION_VERSION, calibration_episodes, choose_precision
from vipflow.encoders.checkpoints import (
    ExportInfo,
    infer_conv_arch,
    is_safetensors,
    load_state_strict,
    read_export,
    read_official,
    write_export,
)
from vipflow.encoders.compiled_cache import CompiledCache
from vipflow.encoders.errors import CheckpointLayoutError, TextNotSupportedError, WeightsNotFoundError
from vipflow.encoders.families import Family, get_family, resolve_arch
from vipflow.encoders.inference import (
    AUTO,
    Runner,
    WeightsVersion,
    build_runner,
    check_precision,
    resolve_runtime,
)
from vipflow.encoders.nets import LIVNet, tokenize
from vipflow.encoders.official import default_weights_dir, find_downloaded
from vipflow.encoders.preprocess import ImageTransform, PreprocessConfig

_DTYPE_PRECISION = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


class Encoder:
    """A loaded image (and for LIV text) encoder with the preprocessing of its official release.

    ``module`` is the plain network (trainable, takes normalised NCHW input); ``transform`` turns
    uint8 frames into that input. ``embed_images`` / ``embed_text`` run through the inference
    ``runtime`` at ``precision`` (inference.py), from a frozen copy or a compiled model that is
    rebuilt (or fetched from the compiled cache) whenever the module's weights change.
    """

    def __init__(
        self,
        family: Family,
        arch: str,
        module: nn.Module,
        preprocess: PreprocessConfig,
        *,
        head_dim: int | None = None,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        runtime: str = "eager",
        precision: str | None = None,
        compiled_cache: str | Path | CompiledCache | None = None,
    ) -> None:
        self.family = family
        self.name = family.name
        self.arch = arch
        self.similarity = family.similarity
        self.head_dim = head_dim
        self.embed_dim = int(module.embed_dim)
        self.device = torch.device(device)
        self.dtype = dtype
        self.preprocess = preprocess
        self.transform = ImageTransform(preprocess, channels_last=True)
        self.module = module.to(self.device, dtype).to(memory_format=torch.channels_last)
        self._weights_version = WeightsVersion(self.module)
        self._fingerprint: tuple[tuple, str] | None = None
        self._configure_inference(runtime, precision, compiled_cache)

    def _configure_inference(
        self, runtime: str, precision: str | None, compiled_cache: str | Path | CompiledCache | None
    ) -> None:
        self.requested_runtime = runtime
        self.requested_precision = precision or _DTYPE_PRECISION[self.dtype]
        self.runtime = resolve_runtime(runtime, self.device, self.dtype, self.requested_precision)
        if precision not in (None, AUTO):
            check_precision(self.runtime, precision, self.device)
        self._precision = None if self.requested_precision == AUTO else self.requested_precision
        self.compiled_cache = (
            compiled_cache if isinstance(compiled_cache, CompiledCache) else CompiledCache(compiled_cache)
        )
        self._runners: dict[tuple, tuple[tuple, Runner]] = {}

    def with_inference(self, runtime: str | None = None, precision: str | None = None) -> Encoder:
        """The same encoder (shared module and weights) through another runtime and/or precision."""
        other = copy.copy(self)
        other._configure_inference(
            runtime or self.requested_runtime, precision or self.requested_precision, self.compiled_cache
        )
        return other

    def __repr__(self) -> str:
        return (f"Encoder({self.name}/{self.arch}, dim={self.embed_dim}, {self.device}, {self.dtype}, "
                f"{self.runtime} {self.requested_precision})")

    @property
    def fingerprint(self) -> str:
        """sha256 over family, arch, preprocessing and every weight; recomputed only after weights change."""
        version = self._weights()
        if self._fingerprint is None or self._fingerprint[0] != version:
            h = hashlib.sha256()
            h.update(f"{self.name}|{self.arch}|{self.preprocess.to_json()}".encode())
            for key, tensor in sorted(self.module.state_dict().items()):
                t = tensor.detach().to("cpu").contiguous()
                h.update(f"{key}|{t.dtype}|{tuple(t.shape)}".encode())
                h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
            self._fingerprint = (version, h.hexdigest())
        return self._fingerprint[1]

    @property
    def precision(self) -> str:
        """The image tower's precision; ``auto`` is decided on first use (agreement.py), then fixed.

        When ``auto`` ends at fp32 under an ``auto`` runtime, the runtime becomes the fastest
        one for fp32.
        """
        if self._precision is None:
            self._precision = choose_precision(self)
            self.runtime = resolve_runtime(self.requested_runtime, self.device, self.dtype, self._precision)
        return self._precision

    @property
    def inference_tag(self) -> str:
        """``runtime-precision`` of the image embeddings: part of every embedding-cache key."""
        precision = self.precision  # first: resolving auto may settle the runtime
        return f"{self.runtime}-{precision}"

    def _weights(self) -> tuple:
        """The weights' version key (WeightsVersion), following a reassigned ``self.module``."""
        if self._weights_version.module is not self.module:
            self._weights_version = WeightsVersion(self.module)
        return self._weights_version()

    def _runner(self, tower: str, x: torch.Tensor, runtime: str, precision: str) -> Runner:
        version = self._weights()
        compiled = runtime != "eager"
        batch = 1 if compiled and len(x) == 1 else None  # compiled: a batch-1 model for single frames
        threads = torch.get_num_threads() if compiled else 0
        slot = (tower, runtime, precision, batch, tuple(x.shape[1:]), threads)
        found = self._runners.get(slot)
        if found is None or found[0] != version:
            if tower == "text":
                module = self.module.text_tower
            else:
                module = self.module.image_tower if isinstance(self.module, LIVNet) else self.module
            key = {}
            if compiled:
                key = {"fingerprint": self.fingerprint, "tower": f"{self.name}-{self.arch}-{tower}"}
            if precision == "int8":
                key["calibration"] = CALIBRATION_VERSION
            runner = build_runner(runtime, precision, module, x, device=self.device,
                                  cache=self.compiled_cache, key=key, frozen_copy=tower != "text",
                                  calibration=lambda: self._calibration_inputs(tuple(x.shape[-2:])))
            self._runners[slot] = found = (version, runner)
        return found[1]

    def _calibration_inputs(self, size: tuple[int, int]) -> np.ndarray:
        """int8's calibration samples: the calibration set at the model's input size, as model input."""
        episodes, _ = calibration_episodes(size)
        with torch.inference_mode():
            x = self.transform(torch.from_numpy(np.concatenate(episodes)).to(self.device))
        return x.float().contiguous().cpu().numpy()

    def embed_images(self, frames: np.ndarray, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """(N,H,W,3) uint8 RGB of any size -> (N, embed_dim) float32, in eval (inference) mode."""
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(
                f"embed_images needs uint8 RGB frames shaped (N,H,W,3); got {frames.dtype} {frames.shape}"
            )
        precision = self.precision
        out = np.empty((len(frames), self.embed_dim), dtype=np.float32)
        bar = tqdm(total=len(frames), desc=f"embed {self.name}", unit="frame", disable=not progress)
        with torch.inference_mode():
            for start in range(0, len(frames), batch_size):
                chunk = _tensor(np.ascontiguousarray(frames[start : start + batch_size]))
                x = self.transform(chunk.to(self.device, non_blocking=True))
                out[start : start + len(chunk)] = self._runner("image", x, self.runtime, precision)(x)
                bar.update(len(chunk))
        bar.close()
        return out

    def embed_text(self, texts: list[str]) -> np.ndarray:
        """Sentences -> (len(texts), embed_dim) float32; LIV only.

        ``auto`` runtime and precision run the text tower eagerly in fp32: it embeds a goal
        sentence once, so compiling it or a faster precision would only cost time. A named
        runtime/precision applies to it as to the image tower, except int8 (image towers only),
        under which it runs fp32.
        """
        if not isinstance(self.module, LIVNet):
            raise TextNotSupportedError(f"encoder {self.name!r} has no text tower; use 'liv' for text goals")
        if isinstance(texts, str):
            texts = [texts]
        runtime = "eager" if self.requested_runtime == AUTO else self.runtime
        precision = "fp32" if self.requested_precision in (AUTO, "int8") else self.requested_precision
        tokens = tokenize(list(texts)).to(self.device)
        with torch.inference_mode():
            return self._runner("text", tokens, runtime, precision)(tokens)


def _tensor(frames: np.ndarray) -> torch.Tensor:
    """A tensor view of uint8 frames, also read-only ones (a ROS message's buffer, a memory map):
    torch warns about those because they could be written through, and the transform only reads."""
    if frames.flags.writeable:
        return torch.from_numpy(frames)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The given NumPy array is not writable", UserWarning)
        return torch.from_numpy(frames)


def _default_weights(name: str, arch: str) -> Path:
    found = find_downloaded(name, arch)
    if found is None:
        raise WeightsNotFoundError(
            f"no weights given for encoder {name!r} ({arch}) and none found in {default_weights_dir()}.\n"
            "  - pass a file (official .pt or our .safetensors export): --encoder-weights PATH, or\n"
            f"    load_encoder({name!r}, PATH)\n"
            f"  - or fetch the official file on a machine with internet: vipflow weights download {name}\n"
            "  - or, for tests and training from scratch only, ask for a random init explicitly: "
            "load_encoder(..., random_init=True) / `vipflow rewards --random-init`"
        )
    return found


def load_encoder(
    name: str,
    weights: str | Path | None = None,
    *,
    arch: str | None = None,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    preprocess: PreprocessConfig | None = None,
    hidden_dim: int | None = None,
    random_init: bool = False,
    seed: int = 0,
    legacy_vip_crop: bool = False,
    pil_resize: bool = False,
    runtime: str = "eager",
    precision: str | None = None,
    compiled_cache: str | Path | None = None,
) -> Encoder:
    """Build an encoder from an official release file, our safetensors export, or (explicitly) random.

    weights=None looks in the weights directory (see `default_weights_dir`). ``random_init=True``
    skips loading (seeded, with a warning): no official weights exist offline, and training starts
    from scratch. ``hidden_dim`` sizes VIP's head (0: no head). ``legacy_vip_crop`` reproduces the
    released VIP forward's extra Resize(256)+CenterCrop(224) on 224x224 input. ``pil_resize``
    resizes and crops through PIL as the official READMEs' callers do (`PreprocessConfig.with_pil_resize`).
    ``runtime`` (eager | openvino | onnxruntime | auto) and ``precision`` (fp32 | bf16 | int8 |
    fp16 | auto; None: the module's dtype) choose how frames are embedded (docs/encoders.md, Inference);
    ``compiled_cache``: folder of compiled models (None: $VIPFLOW_CACHE/compiled; "off").
    """
    family = get_family(name)
    if legacy_vip_crop and family.name != "vip":
        raise ValueError(f"legacy_vip_crop reproduces the released VIP forward; not applicable to {name!r}")
    arch = resolve_arch(family, arch) if arch else None
    head_dim = hidden_dim
    state: dict[str, torch.Tensor] | None = None
    declared_dim: int | None = None  # embed_dim written in our export's metadata
    source = "random init"
    if random_init:
        if weights is not None:
            raise ValueError("pass either weights or random_init=True, not both")
        warnings.warn(f"encoder {name!r}: random weights (random_init=True), not pretrained", stacklevel=2)
    else:
        path = Path(weights) if weights is not None else _default_weights(name, arch or family.default_arch)
        if not path.is_file():
            raise WeightsNotFoundError(f"weights file {path} does not exist (encoder {name!r})")
        source = str(path)
        if is_safetensors(path):
            info, state = read_export(path)
            if info.family != family.name:
                raise CheckpointLayoutError(
                    f"{path} is a {info.family!r} export; load it with load_encoder({info.family!r}, ...)"
                )
            if arch and arch != info.arch:
                raise CheckpointLayoutError(f"{path} holds arch {info.arch!r}, not the requested {arch!r}")
            arch, head_dim, declared_dim = info.arch, info.head_dim, info.embed_dim
            preprocess = preprocess or info.preprocess
        else:
            state = read_official(family, path)
            if family.name in ("vip", "r3m") and arch is None:
                arch, found_head = infer_conv_arch(state)
                if family.name == "vip" and hidden_dim is None:
                    head_dim = found_head
    arch = family.check_arch(arch)
    if family.name == "vip" and head_dim is None:
        head_dim = family.default_head_dim
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = family.build(arch, head_dim)
    if state is not None:
        load_state_strict(module, state, source=source, layout=family.layout_hint)
    if declared_dim is not None and declared_dim != module.embed_dim:
        raise CheckpointLayoutError(
            f"{source} declares embed_dim {declared_dim} but its weights give {module.embed_dim}; the "
            "metadata was edited or damaged - export the encoder again"
        )
    preprocess = preprocess or family.default_preprocess(arch)
    if legacy_vip_crop:
        preprocess = preprocess.with_legacy_vip_crop()
    if pil_resize:
        preprocess = preprocess.with_pil_resize()
    return Encoder(family, arch, module.eval(), preprocess, head_dim=head_dim, device=device, dtype=dtype,
                   runtime=runtime, precision=precision, compiled_cache=compiled_cache)


def save_encoder(encoder: Encoder, path: str | Path) -> Path:
    """Write our export: weights as safetensors, with family/arch/embed_dim/preprocess metadata."""
    path = Path(path)
    info = ExportInfo(
        family=encoder.name,
        arch=encoder.arch,
        embed_dim=encoder.embed_dim,
        head_dim=encoder.head_dim,
        preprocess=encoder.preprocess,
    )
    write_export(path, info, encoder.module)
    return path
