"""The simulated workflow's settings (`vipflow demo`, bench/paper), declared once.

Kept apart from ``vipflow.sim`` (which loads mujoco, an optional extra, on import) so the CLI can
derive the demo's options from these schemas without importing the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vipflow.config_schema import check_fields, option
from vipflow.data_root import data_path, under_root
from vipflow.encoder_inference import precision_option, runtime_option
from vipflow.policy.weights import WeightingConfig

KITCHEN_TASKS = ("slide_cabinet", "microwave", "hinge_cabinet", "light_switch")  # == vipflow.sim.TASKS


@dataclass(frozen=True)
class KitchenEncoderConfig:
    """How the kitchen encoder is pretrained; the defaults reproduce the shipped weights
    (``vipflow.sim.encoder``; docs/simulation.md says how they were chosen)."""

    expert_videos: int = option(8, "scripted-expert clips filmed per pretraining task", bounds="[0, 1000]")
    play_videos: int = option(8, "play clips filmed per pretraining task", bounds="[0, 1000]")
    image_size: int = option(64, "camera image side, pixels", bounds="[8, 1024]")
    # Held-out tuning demos (seed 20000), expert+play: slide-cabinet VOC / bump rate 0.99 / 0.26
    # after 1500 steps and 0.99 / 0.27 after 3000.
    steps: int = option(1500, "VIP training steps", bounds="[1, 1000000]")
    batch_size: int = option(16, "VIP training batch", bounds="[1, 4096]")
    # 10x the official ResNet-50 rate: a small net from scratch in a CPU budget.
    lr: float = option(1e-3, "Adam learning rate", bounds="(0, 1]")
    crop_scale: tuple[float, float] = option(
        (0.2, 1.0), "RandomResizedCrop area range (VIP's official 0.2-1)", bounds="(0, 1]"
    )
    hidden_dim: int = option(128, "VIP head size", bounds="[1, 4096]")
    # bf16 autocast: 3x faster on a CPU with AMX-BF16 (measured: 0.3 vs 0.9 s/step); "off" on
    # CPUs without it, where bf16 is emulated.
    amp: str = option(
        "bf16", "bf16 autocast (fast on CPUs with AMX-BF16) | off (fp32)", choices=("bf16", "off")
    )
    seed: int = option(0, "seed of the filmed clips and of training")


@dataclass(frozen=True)
class WorkflowConfig:
    """One run of the simulated workflow. Defaults: ``vipflow demo``, which derives its options here."""

    task: str = option("slide_cabinet", "kitchen task", choices=KITCHEN_TASKS)
    out_dir: Path = option(None, "output directory", flag="--out", default_text=under_root("demo"))
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
    encoder_runtime: str = runtime_option()
    encoder_precision: str = precision_option()
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
        if self.out_dir is None:  # resolved when the run is configured, so $VIPFLOW_DATA applies
            object.__setattr__(self, "out_dir", data_path("demo"))
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
