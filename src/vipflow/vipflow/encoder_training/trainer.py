"""The training loop: one code path for 1 CPU, 1 GPU, and torchrun with many GPUs or nodes.

Per step: the rank's slice of the global batch -> one encoder forward (under autocast on GPU) ->
embeddings gathered from every rank -> the official loss on the global batch (fp32) ->
backward (scaled by the world size, see distributed.py) -> Adam. Rank 0 logs, validates on
held-out videos (VOC, bump rate), checkpoints, and exports the encoder for the registry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from vipflow.config_schema import ConfigError, resume_differences, to_json
from vipflow.encoder_training.cache import FrameCache
from vipflow.encoder_training.checkpoint import (
    TrainingState,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from vipflow.encoder_training.config import TrainConfig
from vipflow.encoder_training.dataset import SampleSpec, StepSampler, SubTrajectoryDataset, make_loader
from vipflow.encoder_training.distributed import (
    DistEnv,
    agree_to_stop,
    barrier,
    gather_with_grad,
    init_distributed,
    synchronise_batchnorm,
)
from vipflow.encoder_training.errors import (
    CheckpointError,
    NonFiniteLossError,
    TrainingConfigError,
    TrainingDataError,
)
from vipflow.encoder_training.losses import LossConfig, LossTerms, compute_loss, negative_permutations
from vipflow.encoder_training.model import TrainModule, build_encoder
from vipflow.encoder_training.sources import VideoSource
from vipflow.encoder_training.validation import evaluate_videos
from vipflow.encoders.encoder import Encoder, load_encoder, save_encoder
from vipflow.encoders.nets import tokenize
from vipflow.interrupt import StopRequest, graceful
from vipflow.runs import CONFIG_JSON, METRICS_CSV, SUMMARY_JSON, MetricsCSV, Panel, plot_curves, write_json

log = logging.getLogger(__name__)

EXPORT_NAME = "encoder.safetensors"
CURVES_PNG = "training_curves.png"
FIXED = ("step", "elapsed_s", "samples_per_s", "lr")
VALIDATION = ("val_voc", "val_bump_rate")
CURVES = (
    Panel("training loss (terms weighted)", bold="loss"),  # every loss term
    Panel(
        "VOC / bump rate",
        VALIDATION,
        styles={"val_voc": "o-", "val_bump_rate": "s--"},
        labels={"val_voc": "held-out voc", "val_bump_rate": "held-out bump rate"},
        ylim=(-1.05, 1.05),
        zero_line=True,
    ),
)


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``mode`` on ``device`` (None: full fp32)."""
    if mode == "off":
        return None
    if mode == "auto":
        cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda_bf16 else None
    if mode == "fp16" and device.type != "cuda":
        raise TrainingConfigError("amp=fp16 needs a CUDA device; use amp=bf16 or off on CPU")
    return torch.bfloat16 if mode == "bf16" else torch.float16


def step_generator(seed: int, step: int) -> torch.Generator:
    """The negatives' permutations for ``step``: identical on every rank and after a resume."""
    state = np.random.SeedSequence([seed, step, 0x4E45]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def split_cache(
    cache: FrameCache, val_fraction: float, max_val: int, seed: int
) -> tuple[FrameCache, FrameCache]:
    """Hold out whole videos (never frames of a training video) for validation."""
    n = len(cache)
    n_val = min(max_val, round(n * val_fraction)) if n > 1 else 0
    order = np.random.default_rng(seed).permutation(n)
    val = sorted(order[:n_val].tolist())
    train = sorted(order[n_val:].tolist())
    return cache.subset(train), cache.subset(val)


def load_cache(sources: Sequence[VideoSource], config: TrainConfig, env: DistEnv, tag: str) -> FrameCache:
    """Rank 0 decodes into the cache; the other ranks wait, then open the same files."""
    size = config.resolved_cache_size
    if config.cache_dir == "memory":
        return FrameCache.in_memory(sources, size, progress=config.progress and env.is_main)
    cache_dir = Path(config.cache_dir) if config.cache_dir else Path(config.out_dir) / "frame_cache"
    if env.is_main:
        cache = FrameCache.build(sources, cache_dir / tag, size, progress=config.progress)
    barrier(env)
    if not env.is_main:
        cache = FrameCache.build(sources, cache_dir / tag, size, progress=False)
    return cache


@dataclass
class StepRunner:
    """One optimisation step, shared by the trainer and the DDP equivalence test."""

    model: torch.nn.Module  # TrainModule, possibly wrapped in DDP
    loss_config: LossConfig
    env: DistEnv
    seed: int
    autocast_dtype: torch.dtype | None = None

    def loss_terms(self, batch: dict, step: int) -> LossTerms:
        device = self.env.device
        frames = batch["frames"].to(device, non_blocking=True)
        b, f = frames.shape[:2]
        tokens = batch.get("tokens")
        tokens = tokens.to(device, non_blocking=True) if tokens is not None else None
        ctx = torch.autocast(device.type, dtype=self.autocast_dtype) if self.autocast_dtype else nullcontext()
        with ctx:
            image, text = self.model(frames.flatten(0, 1), tokens)
        image = gather_with_grad(image.view(b, f, -1), self.env)
        text = gather_with_grad(text, self.env) if text is not None else None
        num_negatives = getattr(self.loss_config, "num_negatives", 0)
        perms = negative_permutations(num_negatives, image.shape[0], step_generator(self.seed, step))
        return compute_loss(self.loss_config, image, text, perms)

    def backward(self, terms: LossTerms, scaler: torch.amp.GradScaler | None = None) -> None:
        # every rank holds the global loss with gradient only through its own embeddings;
        # scaling by the world size undoes DDP's averaging (see distributed.py)
        loss = terms["loss"] * self.env.world_size
        (scaler.scale(loss) if scaler is not None else loss).backward()


@dataclass
class TrainResult:
    encoder_name: str
    encoder_path: Path
    run_dir: Path
    steps: int
    history: list[dict] = field(default_factory=list)  # validation results, one per evaluation
    final_metrics: dict = field(default_factory=dict)
    is_main: bool = True  # False on DDP ranks other than 0 (which neither validate nor report)
    stop_signal: int | None = None  # SIGINT/SIGTERM that stopped the run (checkpointed, not exported)
    checkpoint: Path | None = None  # the newest checkpoint written


class Trainer:
    """Builds everything from a config and data sources; ``fit()`` trains, validates, exports."""

    def __init__(
        self,
        config: TrainConfig,
        train_sources: Sequence[VideoSource],
        val_sources: Sequence[VideoSource] | None = None,
        resume: str | Path | None = None,
    ) -> None:
        self.config = config
        # the checkpoint first: a refused resume must not have touched the run folder
        resumed = load_checkpoint(resume) if resume is not None else None
        if resumed is not None:
            self._check_resume(resumed)
        self.env = init_distributed(config.device)
        self.run_dir = Path(config.out_dir)
        if self.env.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        barrier(self.env)
        torch.manual_seed(config.seed)

        cache = load_cache(train_sources, config, self.env, "train")
        if val_sources:
            self.train_cache, self.val_cache = cache, load_cache(val_sources, config, self.env, "val")
        else:
            self.train_cache, self.val_cache = split_cache(
                cache, config.val_fraction, config.val_max_videos, config.seed
            )
        if len(self.train_cache) == 0:
            raise TrainingConfigError("no training videos left after holding out validation videos")
        untexted = [n for n, t in zip(self.train_cache.names, self.train_cache.texts, strict=True) if not t]
        if config.objective == "liv" and (config.clipweight or config.langweight) and untexted:
            raise TrainingDataError(
                f"the LIV objective needs a text per video; {len(untexted)} have none "
                f"(e.g. {untexted[0]}). Use a LIV manifest.csv (directory,text,num_frames), episodes "
                "with a goal text, or texts=[...]"
            )

        self.encoder: Encoder = build_encoder(config, self.env.device)
        if config.sync_batchnorm:
            synchronise_batchnorm(self.encoder.module, self.env)
        self.encoder.module.train()
        module = TrainModule(self.encoder)
        self.model = (
            DistributedDataParallel(
                module,
                device_ids=[self.env.device] if self.env.device.type == "cuda" else None,
                # CLIP's logit_scale never gets a gradient in LIV's loss (temperature 1)
                find_unused_parameters=config.objective == "liv",
            )
            if self.env.distributed
            else module
        )
        self.optimizer = torch.optim.Adam(
            self.encoder.module.parameters(),
            lr=config.lr,
            betas=config.betas,
            eps=config.adam_eps,
            weight_decay=config.weight_decay,
        )
        dtype = amp_dtype(config.amp, self.env.device)
        self.scaler = torch.amp.GradScaler(self.env.device.type) if dtype == torch.float16 else None
        self.runner = StepRunner(self.model, config.loss_config(), self.env, config.seed, dtype)
        self.start_step = 0
        self.history: list[dict] = []
        if resumed is not None:
            self._restore(resumed)

    # -- checkpoints -------------------------------------------------------------------------------
    def _state(self, step: int) -> TrainingState:
        return TrainingState(
            step=step,
            model=self.encoder.module.state_dict(),
            optimizer=self.optimizer.state_dict(),
            scaler=self.scaler.state_dict() if self.scaler is not None else None,
            rng=rng_state(),
            config=to_json(self.config),
            extra={"encoder": self.encoder.name, "arch": self.encoder.arch, "history": self.history},
        )

    def _check_resume(self, state: TrainingState) -> None:
        try:
            mismatches = resume_differences(self.config, state.config, free=self.config.resume_free())
        except ConfigError as exc:
            raise CheckpointError(f"the checkpoint's config cannot be read: {exc}") from None
        if mismatches:
            raise CheckpointError(
                f"the checkpoint was trained with different options ({'; '.join(mismatches)}); resume with "
                "the same ones or start a new run"
            )

    def _restore(self, state: TrainingState) -> None:
        try:
            self.encoder.module.load_state_dict(state.model, strict=True)
            self.optimizer.load_state_dict(state.optimizer)
        except (RuntimeError, ValueError, KeyError) as e:
            raise CheckpointError(f"checkpoint does not match the model being trained: {e}") from e
        if self.scaler is not None and state.scaler:
            self.scaler.load_state_dict(state.scaler)
        set_rng_state(state.rng)
        self.start_step = state.step
        self.history = list(state.extra.get("history", []))

    def save(self, step: int) -> Path | None:
        if not all(bool(torch.isfinite(p).all()) for p in self.encoder.module.parameters()):
            raise NonFiniteLossError(
                f"the encoder weights became NaN/inf at step {step}; training stopped and the last good "
                f"checkpoint ({self.run_dir / 'checkpoints' / 'last'}) is kept. Lower the learning rate"
            )
        path = None
        if self.env.is_main:
            path = save_checkpoint(self.run_dir, self._state(step), keep=self.config.keep_checkpoints)
        barrier(self.env)
        return path

    # -- validation --------------------------------------------------------------------------------
    def validate(self, step: int) -> dict:
        """Held-out VOC and bump rate (rank 0 computes; the others wait)."""
        result: dict = {}
        if self.env.is_main and len(self.val_cache):
            result = evaluate_videos(self.encoder, self.val_cache, gamma=self.config.gamma)
            result["step"] = step
            self.history.append(result)
        self.encoder.module.train()
        barrier(self.env)
        return result

    # -- the loop ----------------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        cfg, env = self.config, self.env
        spec = SampleSpec(
            cfg.objective, cfg.image_size, cfg.augment, cfg.crop_scale, cfg.liv_whole_video, cfg.seed
        )
        dataset = SubTrajectoryDataset(self.train_cache, spec, tokenize if cfg.objective == "liv" else None)
        sampler = StepSampler(self.start_step, cfg.steps, cfg.batch_size, env.rank, env.world_size)
        loader = make_loader(dataset, sampler, cfg.num_workers, pin_memory=env.device.type == "cuda")
        metrics = MetricsCSV(self.run_dir / METRICS_CSV, FIXED, self.start_step) if env.is_main else None
        if env.is_main:
            write_json(self.run_dir / CONFIG_JSON, {"train": to_json(cfg)})
        if self.start_step == 0 and cfg.eval_every:
            self._log_validation(metrics, self.validate(0))

        bar = tqdm(
            total=cfg.steps,
            initial=self.start_step,
            desc=f"train {cfg.objective}",
            disable=not (cfg.progress and env.is_main),
        )
        elapsed0 = metrics.elapsed_offset if metrics else 0.0
        t_start = time.perf_counter()
        step = self.start_step
        with graceful(lambda reason: log.warning(
            "%s: finishing this step and writing a checkpoint (signal again to abort)", reason
        )) as stop:
            step, skipped = self._loop(loader, metrics, bar, step, elapsed0, t_start, stop)
        bar.close()
        if skipped:
            log.warning("fp16: %d steps skipped by the gradient scaler (overflow)", skipped)
        if step < cfg.steps and agree_to_stop(stop.requested, env):  # interrupted: checkpoint, no export
            path = self.save(step)
            return TrainResult(self.encoder.name, self.run_dir / EXPORT_NAME, self.run_dir, step,
                               list(self.history), {}, env.is_main, stop.signum, path)

        final = self.validate(step) if cfg.eval_every else {}
        self._log_validation(metrics, final)
        path = self.save(step)
        export = self.run_dir / EXPORT_NAME
        if env.is_main:
            save_encoder(self.encoder, export)
            plot_curves(self.run_dir / METRICS_CSV, self.run_dir / CURVES_PNG, _title(cfg), CURVES, FIXED)
            summary = {"steps": step, "encoder": str(export), "final": final, "history": self.history}
            write_json(self.run_dir / SUMMARY_JSON, summary)
        barrier(env)
        return TrainResult(
            self.encoder.name, export, self.run_dir, step, list(self.history), final, env.is_main,
            checkpoint=path,
        )

    def _loop(self, loader, metrics, bar, step: int, elapsed0: float, t_start: float, stop: StopRequest):
        """Optimisation steps until the loader ends or a stop is requested; returns (step, skipped)."""
        cfg, env = self.config, self.env
        t_log = t_start
        samples_since_log = 0
        skipped = 0
        for batch in loader:
            terms = self.runner.loss_terms(batch, step)
            loss = terms["loss"].item()
            if not np.isfinite(loss):
                if self.scaler is None:
                    parts = {k: v.item() for k, v in terms.items()}
                    raise NonFiniteLossError(
                        f"loss is {loss} at step {step} (terms: {parts}); training stopped and the last good "
                        f"checkpoint ({self.run_dir / 'checkpoints' / 'last'}) is kept. Lower the learning "
                        "rate, use amp=off, or check the data for blank frames"
                    )
                skipped += 1  # fp16: GradScaler skips the step and lowers the scale
            self.optimizer.zero_grad(set_to_none=True)
            lr = cfg.lr_at(step)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            self.runner.backward(terms, self.scaler)
            if cfg.grad_clip:
                if self.scaler is not None:
                    self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.encoder.module.parameters(), cfg.grad_clip)
            if self.scaler is not None:
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                self.optimizer.step()
            step += 1
            samples_since_log += cfg.batch_size
            bar.update(1)
            if env.is_main and (step % cfg.log_every == 0 or step == cfg.steps):
                now = time.perf_counter()
                rate = samples_since_log / max(now - t_log, 1e-9)
                values = {k: v.item() for k, v in terms.items()}
                values |= {"elapsed_s": elapsed0 + now - t_start, "samples_per_s": rate, "lr": lr}
                metrics.write(step, values)
                bar.set_postfix(loss=f"{loss:.4f}", samples_s=f"{rate:.0f}")
                t_log, samples_since_log = now, 0
            if cfg.eval_every and step % cfg.eval_every == 0 and step != cfg.steps:
                self._log_validation(metrics, self.validate(step))
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step != cfg.steps:
                self.save(step)
            if agree_to_stop(stop.requested, env):
                break
        return step, skipped

    def _log_validation(self, metrics: MetricsCSV | None, result: dict) -> None:
        if metrics is None or not result:
            return
        metrics.write(result["step"], {k: v for k, v in result.items() if k.startswith("val_")})
        log.info(
            "step %d: %s", result["step"], {k: round(v, 4) for k, v in result.items() if k.startswith("val_")}
        )


def _title(cfg: TrainConfig) -> str:
    return f"{cfg.objective.upper()} training: {cfg.encoder}/{cfg.arch or 'default'}, batch {cfg.batch_size}"


def load_trained(result: TrainResult, device: str = "cpu") -> Encoder:
    """The exported encoder, loaded through the registry like any other weights file."""
    return load_encoder(result.encoder_name, result.encoder_path, device=device)
