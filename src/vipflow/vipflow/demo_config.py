"""The simulated workflow's settings (`vipflow demo`, bench/paper), declared once.

Kept apart from ``vipflow.sim`` (which loads mujoco, an optional extra, on import) so the CLI can
derive the demo's options from these schemas without importing the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vipflow.config_schema import check_fields, option
from vipflow.policy.weights import WeightingConfig

KITCHEN_TASKS = ("slide_cabinet", "microwave", "hinge_cabinet", "light_switch")  # == vipflow.sim.TASKS


@dataclass(frozen=True)
class KitchenEncoderConfig:
    """How the kitchen encoder is pretrained; the defaults reproduce the shipped weights
    (``vipflow.sim.encoder``)."""

    videos_per_task: int = option(12, "scripted-expert videos per training task")
    image_size: int = option(64, "camera image side, pixels")
    steps: int = option(1500, "VIP training steps")
    batch_size: int = option(16, "VIP training batch")
    # 10x the official ResNet-50 rate: a small net from scratch. Held-out slide-cabinet VOC /
    # bump rate after 600 steps: 0.36 / 0.46 at 1e-4, 0.72 / 0.50 at 1e-3; 1500 steps at 1e-3:
    # 0.84 / 0.39 (3e-3 overfits the training tasks: 0.67 / 0.44). Random init: 0.64 / 0.37.
    lr: float = option(1e-3, "Adam learning rate")
    hidden_dim: int = option(128, "VIP head size")
    seed: int = option(0, "seed of the videos and of training")


@dataclass(frozen=True)
class WorkflowConfig:
    """One run of the simulated workflow. Defaults: ``vipflow demo``, which derives its options here."""

    task: str = option("slide_cabinet", "kitchen task", choices=KITCHEN_TASKS)
    out_dir: Path = option(Path("vipflow_demo"), "output directory", flag="--out")
    n_expert: int = option(10, "expert demos", flag="--experts", bounds="[0, 10000]")
    n_failure: int = option(10, "failed demos", flag="--failures", bounds="[0, 10000]")
    image_size: int = option(64, "camera image side in pixels", bounds="[8, 4096]")
    seed: int = option(0, "seed of the demos, and the first of the policy seeds")
    seeds: int = option(
        3, "policy seeds: training and evaluation repeat with seeds SEED .. SEED+N-1 on the same demos, "
        "and the table reports their mean and spread", bounds="[1, 100]",
    )
    encoder_weights: Path | None = option(
        None, "use this VIP encoder instead of the shipped kitchen encoder",
        default_text="the shipped kitchen encoder for the task",
    )
    encoder_config: KitchenEncoderConfig = field(
        default_factory=KitchenEncoderConfig, metadata={"help": "kitchen encoder pretraining", "cli": False}
    )
    train_encoder: bool = option(False, "pretrain the kitchen encoder now (ignores the shipped weights)")
    methods: tuple[str, ...] = option(("rwr", "bc"), "policies trained and compared", cli=False)
    # RWR weights exp(tau * R / std(R)), normalised to mean 1 and clipped: the same defaults as
    # `vipflow train` (docs/training-policies.md says why these values).
    temperature: float = option(
        WeightingConfig.temperature, "RWR temperature tau on standardised rewards (as `train --tau`)",
        bounds="[0, 1000]",
    )
    weight_clip: float | None = option(
        None, "cap the weights at this multiple of their mean (0: no cap)", bounds="[0, inf]",
        default_text="the method's: 20 for RWR",
    )
    policy_steps: int = option(
        20_000, "policy training steps (the paper's; ~20-30 s per policy on a CPU)", flag="--steps",
        bounds="[1, 1000000000]",
    )
    rollouts: int = option(10, "evaluation rollouts per policy and seed", bounds="[1, 10000]")
    eval_horizon: int | None = option(
        None, "evaluation steps per rollout", flag="--horizon", bounds="[2, 100000]",
        default_text="the task's demo length + 50",
    )
    progress: bool = option(
        True, "progress bars (off: a line per stage and per 10 % of recording)", terminal=True, resume="free"
    )
    policy_prefix: str = option("VIP", "policy names in the table: VIP-RWR, VIP-BC", cli=False)
    # One intra-op thread: rendering and encoding share a small CPU, and oversubscribed torch
    # threads make a 64 px convnet forward 6x slower (7 ms -> 43 ms per frame on 2 cores).
    torch_threads: int = option(1, "torch intra-op threads", cli=False)

    def __post_init__(self) -> None:
        check_fields(self)

    @property
    def policy_seeds(self) -> range:
        return range(self.seed, self.seed + self.seeds)

    def policy_name(self, method: str) -> str:
        return f"{self.policy_prefix}-{method.upper()}"

    @property
    def horizon(self) -> int:
        from vipflow.sim.tasks import get_task  # deferred: vipflow.sim loads mujoco (optional extra)

        return get_task(self.task).horizon

    @property
    def resolved_eval_horizon(self) -> int:
        return self.eval_horizon or self.horizon + 50
