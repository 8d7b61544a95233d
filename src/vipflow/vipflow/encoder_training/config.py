"""One dataclass holds every training option; defaults follow the official release configs.

Options left at ``None`` take the objective's official value (see :data:`OBJECTIVE_DEFAULTS`):
VIP ``cfgs/config_vip_ego4d.yaml``, LIV ``training/finetune.yaml``; LSTD uses VIP's setup.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vipflow.encoder_training.dataset import AUGMENTATIONS
from vipflow.encoder_training.errors import TrainingConfigError
from vipflow.encoder_training.losses import LIVLossConfig, LSTDLossConfig, VIPLossConfig
from vipflow.encoder_training.sampling import FRAME_LAYOUTS
from vipflow.encoder_training.sources import DEFAULT_EPISODE_LABELS

AMP_MODES = ("auto", "bf16", "fp16", "off")
LR_SCHEDULES = ("constant", "cosine")

OBJECTIVE_DEFAULTS: dict[str, dict[str, Any]] = {
    "vip": {
        "encoder": "vip",
        "lr": 1e-4,
        "betas": (0.9, 0.999),
        "adam_eps": 1e-8,
        "weight_decay": 0.0,
        "num_negatives": 3,
    },
    "lstd": {
        "encoder": "vip",
        "lr": 1e-4,
        "betas": (0.9, 0.999),
        "adam_eps": 1e-8,
        "weight_decay": 0.0,
        "num_negatives": 0,
    },
    "liv": {
        "encoder": "liv",
        "lr": 1e-5,
        "betas": (0.9, 0.98),
        "adam_eps": 1e-6,
        "weight_decay": 0.001,
        "num_negatives": 0,
    },
}


# One line per option: the CLI's --help and docs/training.md use these.
OPTION_HELP: dict[str, str] = {
    "objective": "vip | liv | lstd",
    "encoder": "registry family of the trained encoder (default: vip, or liv for the LIV objective)",
    "arch": "backbone: resnet50, resnet34, resnet18, convnet-small (vip); rn50 (liv)",
    "init_weights": "official .pt or our .safetensors to fine-tune from (default: train from scratch)",
    "hidden_dim": "VIP head size (family default 1024; 0: no head)",
    "image_size": "side of the square crops the model sees",
    "cache_size": "short side of the frames stored in the cache (default: image_size)",
    "cache_dir": "frame cache folder (default <out_dir>/frame_cache; 'memory': decode into RAM)",
    "augment": "rctraj (one random crop per sub-trajectory, official) | rc (per frame) | none",
    "crop_scale": "RandomResizedCrop area range",
    "liv_whole_video": "LIV sampling: start 0, end = text frame = last (custom data) vs sub-trajectories",
    "batch_size": "global batch (split across DDP processes)",
    "steps": "optimisation steps in total",
    "lr": "Adam learning rate (default: 1e-4 VIP/LSTD, 1e-5 LIV)",
    "betas": "Adam betas (default: 0.9 0.999 VIP/LSTD, 0.9 0.98 LIV)",
    "adam_eps": "Adam eps (default: 1e-8 VIP/LSTD, 1e-6 LIV)",
    "weight_decay": "coupled L2 decay as torch.optim.Adam (default: 0 VIP/LSTD, 0.001 LIV)",
    "grad_clip": "clip the gradient norm (the official code does not clip)",
    "lr_schedule": "constant (official) | cosine (decays to 0 at the last step)",
    "gamma": "discount (0.98 in both releases)",
    "l1weight": "VIP/LSTD: weight of the mean L1 norm of the embeddings",
    "l2weight": "VIP/LSTD: weight of the mean L2 norm of the embeddings",
    "num_negatives": "other-video transitions per sample (default: 3 VIP, 0 LIV finetune / LSTD)",
    "clipweight": "LIV: InfoNCE weight",
    "visionweight": "LIV: VIP-I weight",
    "langweight": "LIV: VIP-L weight (0 in LIV's finetune config, 1 in pretraining)",
    "amp": "auto (bf16 on CUDA when supported, else off) | bf16 | fp16 (CUDA, with GradScaler) | off",
    "device": "auto | cpu | cuda (under torchrun: the local rank's GPU)",
    "sync_batchnorm": "global batch-norm statistics under DDP (the exact single-process result)",
    "num_workers": "DataLoader worker processes per training process",
    "seed": "seed of the model init and of every sample (video, frames, crop)",
    "log_every": "steps between metrics.csv rows",
    "eval_every": "steps between held-out VOC / bump-rate evaluations (0: none)",
    "checkpoint_every": "steps between checkpoints (one is always written at the end)",
    "keep_checkpoints": "how many recent checkpoints to keep",
    "val_fraction": "share of the videos held out for validation when no validation data is given",
    "val_max_videos": "at most this many held-out videos",
    "out_dir": "run folder: checkpoints, metrics.csv, training_curves.png, encoder.safetensors",
    "progress": "show a progress bar",
    "episode_labels": "episode labels to train on (default: success unlabeled)",
}


@dataclass
class TrainConfig:
    """Everything a training run needs besides its data (see :data:`OPTION_HELP`)."""

    objective: str = "vip"
    encoder: str | None = None
    arch: str | None = None
    init_weights: str | None = None
    hidden_dim: int | None = None
    image_size: int = 224
    cache_size: int | None = None
    cache_dir: str | None = None
    augment: str = "rctraj"
    crop_scale: tuple[float, float] = (0.2, 1.0)
    liv_whole_video: bool = True
    batch_size: int = 32
    steps: int = 2000
    lr: float | None = None
    betas: tuple[float, float] | None = None
    adam_eps: float | None = None
    weight_decay: float | None = None
    grad_clip: float | None = None
    lr_schedule: str = "constant"
    gamma: float = 0.98
    l1weight: float = 0.001
    l2weight: float = 0.001
    num_negatives: int | None = None
    clipweight: float = 1.0
    visionweight: float = 1.0
    langweight: float = 0.0
    amp: str = "auto"
    device: str = "auto"
    sync_batchnorm: bool = True
    num_workers: int = 2
    seed: int = 0
    log_every: int = 10
    eval_every: int = 250
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    val_fraction: float = 0.1
    val_max_videos: int = 32
    out_dir: str = "runs/train_encoder"
    progress: bool = True
    episode_labels: tuple[str, ...] | None = DEFAULT_EPISODE_LABELS
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.objective not in FRAME_LAYOUTS:
            raise TrainingConfigError(
                f"unknown objective {self.objective!r}; choose one of {', '.join(FRAME_LAYOUTS)}"
            )
        if self.augment not in AUGMENTATIONS:
            raise TrainingConfigError(f"augment must be one of {AUGMENTATIONS}, got {self.augment!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise TrainingConfigError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.amp not in AMP_MODES:
            raise TrainingConfigError(f"amp must be one of {AMP_MODES}, got {self.amp!r}")
        checks = {
            "batch_size": self.batch_size >= 2,  # the TD and InfoNCE terms are over the batch
            "steps": self.steps >= 0,
            "image_size": self.image_size >= 8,
            "gamma": 0.0 < self.gamma < 1.0,
            "val_fraction": 0.0 <= self.val_fraction < 1.0,
            "num_workers": self.num_workers >= 0,
            "log_every": self.log_every >= 1,
            "eval_every": self.eval_every >= 0,
            "checkpoint_every": self.checkpoint_every >= 0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise TrainingConfigError(f"invalid {', '.join(f'{k}={getattr(self, k)!r}' for k in bad)}")
        defaults = OBJECTIVE_DEFAULTS[self.objective]
        for key, value in defaults.items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        if self.objective == "liv" and self.encoder != "liv":
            raise TrainingConfigError("the LIV objective needs a text tower: use encoder 'liv'")
        if self.objective != "liv" and self.encoder == "liv":
            raise TrainingConfigError(
                f"encoder 'liv' is trained with the LIV objective, not {self.objective!r}"
            )
        self.crop_scale = tuple(self.crop_scale)
        self.betas = tuple(self.betas)
        if self.episode_labels is not None:
            self.episode_labels = tuple(self.episode_labels)

    @property
    def resolved_cache_size(self) -> int:
        return self.cache_size or self.image_size

    def loss_config(self) -> VIPLossConfig | LIVLossConfig | LSTDLossConfig:
        if self.objective == "vip":
            return VIPLossConfig(self.gamma, self.l1weight, self.l2weight, self.num_negatives)
        if self.objective == "lstd":
            return LSTDLossConfig(self.gamma, self.l1weight, self.l2weight)
        return LIVLossConfig(
            self.gamma, self.clipweight, self.visionweight, self.langweight, self.num_negatives
        )

    def lr_at(self, step: int) -> float:
        """Learning rate for the update made at ``step`` (0-based); a pure function of the step, so
        a resumed run needs no scheduler state."""
        if self.lr_schedule == "cosine" and self.steps > 0:
            return self.lr * 0.5 * (1.0 + math.cos(math.pi * min(step, self.steps) / self.steps))
        return self.lr

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise TrainingConfigError(f"unknown training options {unknown}")
        return cls(**data)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=1))

    # Options that may differ between a run and its resumption without changing the result.
    RESUMABLE_CHANGES = frozenset(
        {
            "steps",
            "num_workers",
            "log_every",
            "eval_every",
            "checkpoint_every",
            "keep_checkpoints",
            "progress",
            "out_dir",
            "cache_dir",
            "device",
        }
    )

    def resume_mismatches(self, saved: dict[str, Any]) -> list[str]:
        """Options that differ from the checkpoint's and would change what is being trained."""
        mine = json.loads(json.dumps(self.to_dict()))  # tuples -> lists, as stored
        free = self.RESUMABLE_CHANGES
        if self.lr_schedule == "cosine":
            free = free - {"steps"}  # the schedule is stretched over `steps`
        return [
            f"{k}: checkpoint {saved.get(k)!r}, now {v!r}"
            for k, v in mine.items()
            if k not in free and saved.get(k) != v
        ]
