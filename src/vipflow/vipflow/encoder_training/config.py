"""One schema holds every encoder-training option; defaults follow the official release configs.

Options left at ``None`` take the objective's official value (see :data:`OBJECTIVE_DEFAULTS`):
VIP ``cfgs/config_vip_ego4d.yaml``, LIV ``training/finetune.yaml``; LSTD uses VIP's setup.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from vipflow.config_schema import check_fields, option, schema_fields
from vipflow.data_root import data_path, under_root
from vipflow.encoder_training.dataset import AUGMENTATIONS
from vipflow.encoder_training.errors import TrainingConfigError
from vipflow.encoder_training.losses import LIVLossConfig, LSTDLossConfig, VIPLossConfig
from vipflow.encoder_training.sampling import FRAME_LAYOUTS
from vipflow.encoder_training.sources import DEFAULT_EPISODE_LABELS
from vipflow.episodes.meta import LABELS

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


FREE = "free"  # may change between a run and its resumption without changing the result
EVERY = "[0, 1000000000]"
WEIGHT = "[0, inf)"


@dataclass
class TrainConfig:
    """Everything a training run needs besides its data. Each field is declared once, with its help,
    range and command-line spelling (`vipflow train-encoder` derives its options from it)."""

    objective: str = option("vip", "training objective", choices=tuple(FRAME_LAYOUTS))
    encoder: str | None = option(
        None, "registry family of the trained encoder", default_text="vip, or liv for the LIV objective"
    )
    arch: str | None = option(
        None, "backbone: resnet50, resnet34, resnet18, convnet-small (vip); rn50 (liv)",
        flag="--encoder-arch", deprecated=("--arch",), default_text="the family's",
    )
    init_weights: str | None = option(
        None, "official .pt or our .safetensors to fine-tune from", flag="--encoder-weights",
        deprecated=("--init-weights",), default_text="train from scratch",
    )
    hidden_dim: int | None = option(
        None, "VIP head size (0: no head)", bounds="[0, 65536]", default_text="the family's, 1024"
    )
    image_size: int = option(224, "side of the square crops the model sees", bounds="[8, 4096]")
    cache_size: int | None = option(
        None, "short side of the frames stored in the cache", bounds="[8, 4096]", default_text="image_size"
    )
    cache_dir: str | None = option(
        None, "frame cache folder ('memory': decode into RAM)", resume=FREE,
        default_text="<out_dir>/frame_cache",
    )
    augment: str = option(
        "rctraj", "rctraj (one random crop per sub-trajectory, official) | rc (per frame) | none",
        choices=AUGMENTATIONS,
    )
    crop_scale: tuple[float, float] = option((0.2, 1.0), "RandomResizedCrop area range", bounds="(0, 1]")
    liv_whole_video: bool = option(
        True, "LIV sampling: start 0, end = text frame = last (custom data) vs sub-trajectories"
    )
    batch_size: int = option(32, "global batch (split across DDP processes)", bounds="[2, 1000000]")
    steps: int = option(2000, "optimisation steps in total", bounds=EVERY, resume=FREE)
    lr: float | None = option(
        None, "Adam learning rate", bounds="(0, 10]", default_text="1e-4 VIP/LSTD, 1e-5 LIV"
    )
    betas: tuple[float, float] | None = option(
        None, "Adam betas", bounds="[0, 1)", default_text="0.9 0.999 VIP/LSTD, 0.9 0.98 LIV"
    )
    adam_eps: float | None = option(None, "Adam eps", bounds="(0, 1]", default_text="1e-8 VIP/LSTD, 1e-6 LIV")
    weight_decay: float | None = option(
        None, "coupled L2 decay as torch.optim.Adam", bounds="[0, 10]", default_text="0 VIP/LSTD, 0.001 LIV"
    )
    grad_clip: float | None = option(
        None, "clip the gradient norm (the official code does not clip)", bounds="(0, inf]"
    )
    lr_schedule: str = option(
        "constant", "constant (official) | cosine (decays to 0 at the last step)", choices=LR_SCHEDULES
    )
    gamma: float = option(0.98, "discount (0.98 in both releases)", bounds="(0, 1)")
    l1weight: float = option(0.001, "VIP/LSTD: weight of the mean L1 norm of the embeddings", bounds=WEIGHT)
    l2weight: float = option(0.001, "VIP/LSTD: weight of the mean L2 norm of the embeddings", bounds=WEIGHT)
    num_negatives: int | None = option(
        None, "other-video transitions per sample", bounds="[0, 1024]",
        default_text="3 VIP, 0 LIV finetune / LSTD",
    )
    clipweight: float = option(1.0, "LIV: InfoNCE weight", bounds=WEIGHT)
    visionweight: float = option(1.0, "LIV: VIP-I weight", bounds=WEIGHT)
    langweight: float = option(
        0.0, "LIV: VIP-L weight (0 in LIV's finetune config, 1 in pretraining)", bounds=WEIGHT
    )
    amp: str = option(
        "auto", "auto (bf16 on CUDA when supported, else off) | bf16 | fp16 (CUDA, with GradScaler) | off",
        choices=AMP_MODES,
    )
    device: str = option("auto", "auto | cpu | cuda (under torchrun: the local rank's GPU)", resume=FREE)
    sync_batchnorm: bool = option(
        True, "global batch-norm statistics under DDP (the exact single-process result)"
    )
    num_workers: int = option(
        2, "DataLoader worker processes per training process", bounds="[0, 256]", resume=FREE
    )
    seed: int = option(0, "seed of the training run: model init and every sample (video, frames, crop)")
    log_every: int = option(10, "steps between metrics.csv rows", bounds="[1, 1000000000]", resume=FREE)
    eval_every: int = option(
        250, "steps between held-out VOC / bump-rate evaluations (0: none)", bounds=EVERY, resume=FREE
    )
    checkpoint_every: int = option(
        500, "steps between checkpoints (one is always written at the end)", bounds=EVERY, resume=FREE
    )
    keep_checkpoints: int = option(
        3, "how many recent checkpoints to keep", bounds="[1, 1000000]", resume=FREE
    )
    val_fraction: float = option(
        0.1, "share of the videos held out for validation when no validation data is given", bounds="[0, 1)"
    )
    val_max_videos: int = option(32, "at most this many held-out videos", bounds="[0, 1000000]")
    out_dir: str = option(
        "",
        "run folder: checkpoints, metrics.csv, training_curves.png, encoder.safetensors",
        flag="--out", deprecated=("--out-dir",), resume=FREE, default_text=under_root("runs/train_encoder"),
    )
    progress: bool = option(True, "show a progress bar", resume=FREE, terminal=True)
    episode_labels: tuple[str, ...] | None = option(
        DEFAULT_EPISODE_LABELS, "keep episodes with these labels", choices=LABELS, metavar="LABEL",
        flag="--label", deprecated=("--episode-labels",),
    )
    extra: dict = option({}, "what the command line remembers for --resume (its data)", cli=False)

    def __post_init__(self) -> None:
        if self.episode_labels is not None:
            self.episode_labels = tuple(self.episode_labels)
        self.crop_scale = tuple(self.crop_scale)
        self.out_dir = self.out_dir or str(data_path("runs", "train_encoder"))  # $VIPFLOW_DATA applies
        if self.betas is not None:
            self.betas = tuple(self.betas)
        check_fields(self, TrainingConfigError)
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

    def resume_free(self) -> frozenset[str]:
        """Options that may differ on resume; not ``steps`` under a cosine schedule (stretched over them)."""
        free = frozenset(n for n, f, _ in schema_fields(TrainConfig) if f.metadata.get("resume") == FREE)
        return free - {"steps"} if self.lr_schedule == "cosine" else free

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


def configure(config: TrainConfig | None = None, **overrides: Any) -> TrainConfig:
    """``config`` (or the defaults) with ``overrides`` applied: what the Python API takes."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TrainingConfigError(f"unknown training options {unknown}; allowed: {sorted(names)}")
    base = dataclasses.asdict(config) if config is not None else {}
    return TrainConfig(**(base | overrides))
