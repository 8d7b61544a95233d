"""The training configuration: one dataclass, saved resolved with every run (``config.json``)."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any

from vipflow.policy.weights import WeightingConfig

# Fields that may differ when a run is resumed: they change neither the data nor the optimisation.
RESUME_FREE_FIELDS = frozenset(
    {
        "run_dir",
        "steps",
        "eval_every",
        "save_every",
        "log_every",
        "progress",
        "cache_dir",
        "encode_batch_size",
    }
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a policy-training run. Defaults follow the VIP paper (App. H.2)."""

    datasets: tuple[str, ...] = ()  # dataset directories and/or single episode directories
    run_dir: str = ""
    # Episode selection (empty = no filter). An episode must carry every tag in ``tags``.
    labels: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    # Observation and action
    encoder: str = "vip"
    encoder_weights: str | None = None
    encoder_arch: str | None = None
    encoder_runtime: str = "auto"  # eager | openvino | onnxruntime | auto (vipflow.encoders)
    encoder_precision: str = "auto"  # fp32 | bf16 | fp16 | auto; part of the embedding-cache key
    device: str = "cpu"
    encode_batch_size: int = 32
    cache_dir: str | None = None  # None: $VIPFLOW_CACHE or ~/.cache/vipflow; "off": no cache
    rate_hz: float = 25.0
    action_space: str | None = None  # None: from the episodes' metadata, else ee_delta
    proprio: tuple[str, ...] = ("ee_pose", "gripper")
    task_conditioning: str = "auto"  # auto | none | onehot | text
    # Goal (default: mean last-frame embedding of the successful demos of each task)
    goal_images: tuple[str, ...] = ()
    goal_text: str | None = None
    goal_last_frames: int = 1  # demo goals: average this many final frames of each successful demo
    gamma: float = 0.98  # only LIV's cosine similarity uses it (scale 1/(1-gamma))
    weighting: WeightingConfig = field(default_factory=WeightingConfig)
    # Policy and optimisation
    hidden_sizes: tuple[int, ...] = (256, 256)
    head: str = "deterministic"
    lr: float = 1e-3
    batch_size: int = 32
    steps: int = 20_000
    seed: int = 0
    num_threads: int | None = 1  # intra-op threads of the training loop (None: torch's default)
    val_fraction: float = 0.1
    eval_every: int = 500
    save_every: int = 5_000
    log_every: int = 100
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every", "save_every", "log_every", "goal_last_frames"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.goal_images and self.goal_text:
            raise ValueError("give either goal images or a goal text, not both")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TrainConfig:
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name not in d:
                continue
            value = d[f.name]
            if f.name == "weighting":
                value = WeightingConfig(**value)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
        return cls(**kwargs)

    def resume_differences(self, saved: TrainConfig) -> list[str]:
        """Fields that would make a resumed run a different experiment."""
        mine, theirs = self.to_json(), saved.to_json()
        return [
            f"{k}: saved {theirs[k]!r}, now {mine[k]!r}"
            for k in mine
            if k not in RESUME_FREE_FIELDS and mine[k] != theirs[k]
        ]
