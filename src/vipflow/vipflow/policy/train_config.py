"""The policy-training configuration: one schema, saved resolved with every run (``config.json``).

Every field is declared once here, with its help, range and command-line spelling; `vipflow
train` (and ``ros2 run rwr_policy_node train``) derive their options from it
(``vipflow.cli.options``), task YAMLs feed it through :func:`task_values`, and a resumed run is
compared against the stored copy with ``config_schema.resume_differences``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vipflow.actions import ACTION_SPACES, PROPRIO_FEATURES
from vipflow.config_schema import check_fields, option
from vipflow.data_root import under_root
from vipflow.encoders.families import FAMILIES
from vipflow.episodes.meta import LABELS
from vipflow.policy.policy_config import HEADS, TASK_CONDITIONING
from vipflow.policy.weights import WeightingConfig

RUN = "run"
SELECT = "episode selection"
OBSERVE = "observation, action, goal"
OPTIMISE = "policy and optimisation"
EVERY = "[1, 1000000000]"
FREE = "free"  # may change when the run is resumed


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a policy-training run. Defaults follow the VIP paper (App. H.2)."""

    datasets: tuple[str, ...] = option(
        (), "dataset directories and/or single episode directories", positional=True, metavar="DATASET"
    )
    run_dir: str = option(
        "", "run directory", flag="--out", deprecated=("-o",), metavar="RUN_DIR", group=RUN, resume=FREE,
        default_text=under_root("runs/<task>-<method>-<time>"),
    )
    # Episode selection (empty = no filter). An episode must carry every tag in ``tags``.
    labels: tuple[str, ...] = option(
        (), "keep episodes with this label (repeatable)", flag="--label", repeat=True, choices=LABELS,
        group=SELECT, default_text="all labels",
    )
    tags: tuple[str, ...] = option(
        (), "keep episodes carrying this tag (repeatable: all required)", flag="--tag", repeat=True,
        group=SELECT,
    )
    exclude_tags: tuple[str, ...] = option(
        (), "drop episodes carrying this tag (repeatable)", flag="--exclude-tag", repeat=True, group=SELECT
    )
    tasks: tuple[str, ...] = option(
        (), "keep episodes of this task (repeatable)", flag="--task", repeat=True, group=SELECT,
        default_text="all tasks",
    )
    # Observation and action
    encoder: str = option("vip", "frozen encoder family", choices=tuple(sorted(FAMILIES)), group=OBSERVE)
    encoder_weights: str | None = option(
        None, "official .pt or our .safetensors export", metavar="PATH", group=OBSERVE,
        default_text="the weights folder",
    )
    encoder_arch: str | None = option(
        None, "backbone", group=OBSERVE, default_text="the family's, or read from the file"
    )
    device: str = option("cpu", "device of the encoder; training runs on CPU", group=OBSERVE)
    encode_batch_size: int = option(
        32, "frames per encoder batch", bounds="[1, 65536]", group=OBSERVE, resume=FREE
    )
    cache_dir: str | None = option(
        None, "embedding cache folder, or 'off'", group=OBSERVE, resume=FREE,
        default_text="$VIPFLOW_CACHE/embeddings, else " + under_root("cache/embeddings"),
    )
    rate_hz: float = option(
        25.0, "control grid rate", flag="--rate", metavar="HZ", bounds="[1, 1000]", group=OBSERVE
    )
    action_space: str | None = option(
        None, "action space of the policy", choices=tuple(sorted(ACTION_SPACES)), group=OBSERVE,
        default_text="the episodes' declared space, else ee_delta",
    )
    proprio: tuple[str, ...] = option(
        ("ee_pose", "gripper"), "comma-separated proprioceptive features, '' for none", sep=",",
        choices=tuple(sorted(PROPRIO_FEATURES)), metavar="KEYS", group=OBSERVE,
    )
    task_conditioning: str = option(
        "auto", "auto: one-hot when the selection holds several tasks, else none; text: LIV text "
        "embedding of each task's goal text", choices=("auto", *TASK_CONDITIONING), group=OBSERVE,
    )
    # Goal (default: mean last-frame embedding of the successful demos of each task)
    goal_images: tuple[str, ...] = option(
        (), "goal image; the goal is the mean embedding of all given (repeatable)", flag="--goal-image",
        repeat=True, metavar="PNG", group=OBSERVE, default_text="the successful demos' last frames",
    )
    goal_text: str | None = option(None, "goal sentence (LIV only)", group=OBSERVE)
    goal_last_frames: int = option(
        1, "demo goals: mean of the last N frames of each successful demo", bounds="[1, 10000]",
        metavar="N", group=OBSERVE,
    )
    gamma: float = option(
        0.98, "discount in LIV's cosine value (scale 1/(1-gamma))", bounds="[0, 1)", group=OBSERVE
    )
    weighting: WeightingConfig = field(default_factory=WeightingConfig)
    # Policy and optimisation
    hidden_sizes: tuple[int, ...] = option(
        (256, 256), "MLP hidden sizes", flag="--hidden", sep=",", metavar="SIZES", bounds="[1, 65536]",
        group=OPTIMISE,
    )
    head: str = option("deterministic", "policy head", choices=HEADS, group=OPTIMISE)
    lr: float = option(1e-3, "Adam learning rate", bounds="(0, 10]", group=OPTIMISE)
    batch_size: int = option(32, "transitions per step", bounds="[1, 1000000]", group=OPTIMISE)
    steps: int = option(20_000, "optimiser steps", bounds=EVERY, group=OPTIMISE, resume=FREE)
    seed: int = option(
        0, "seed of the training run (initial weights, validation split, batch sampler); same seed + data "
        "-> same weights on CPU",
        group=OPTIMISE,
    )
    num_threads: int | None = option(
        1, "CPU threads of the training loop ('none': torch's choice)", flag="--threads",
        bounds="[1, 1024]", group=OPTIMISE,
    )
    val_fraction: float = option(0.1, "episodes held out for validation", bounds="[0, 1)", group=OPTIMISE)
    eval_every: int = option(500, "validation interval in steps", bounds=EVERY, group=OPTIMISE, resume=FREE)
    save_every: int = option(5_000, "checkpoint interval in steps", bounds=EVERY, group=OPTIMISE, resume=FREE)
    log_every: int = option(100, "metrics.csv interval in steps", bounds=EVERY, group=OPTIMISE, resume=FREE)
    progress: bool = option(True, "progress bars", group=OPTIMISE, resume=FREE, terminal=True)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.goal_images and self.goal_text:
            raise ValueError("give either goal images or a goal text, not both")


def task_values(tc) -> dict[str, Any]:
    """The training settings a task config (``vipflow.task_config.TaskConfig``) gives, as flat
    dotted values: the middle layer of ``defaults < task YAML < flags``."""
    values: dict[str, Any] = {
        "datasets": (str(tc.dataset_dir),),
        "encoder": tc.encoder.name,
        "rate_hz": tc.rate_hz,
        "gamma": tc.reward.gamma,
        "action_space": tc.policy.action_space,
        "proprio": tuple(tc.policy.proprio),
        "weighting.method": tc.policy.algorithm,
        "weighting.temperature": tc.policy.tau,
        "goal_last_frames": tc.goal.last_frames,
    }
    if tc.encoder.arch:
        values["encoder_arch"] = tc.encoder.arch
    if tc.encoder.weights:
        values["encoder_weights"] = tc.encoder.weights
    if tc.goal.source == "images":
        values["goal_images"] = tuple(str(p) for p in tc.goal_image_paths())
    elif tc.goal.source == "text":
        values["goal_text"] = tc.goal_text
    return values
