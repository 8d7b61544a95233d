"""What a trained policy is: the description stored beside its weights in every checkpoint.

Everything the runtime needs to feed the policy correctly (which encoder, which proprioception,
which action space, how inputs and actions were normalised, which tasks it knows) lives here, so a
checkpoint is self-describing and a mismatch is caught at load time rather than on the robot.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from vipflow.actions import PROPRIO_FEATURES, action_space

FORMAT_VERSION = "1"
TASK_CONDITIONING = ("none", "onehot", "text")
HEADS = ("deterministic", "gaussian")

# A feature whose dataset std is below this is constant (e.g. a gripper that never moved): it is
# centred but not scaled, so it cannot blow up at run time when it finally varies.
_STD_FLOOR = 1e-6


@dataclass(frozen=True)
class EncoderRef:
    """The frozen encoder whose embeddings the policy observes."""

    name: str
    arch: str
    fingerprint: str
    embed_dim: int
    similarity: str = "l2"


@dataclass(frozen=True)
class Normalization:
    """Per-feature mean/std of the observation (embedding ++ proprio) and of the actions."""

    obs_mean: tuple[float, ...]
    obs_std: tuple[float, ...]
    action_mean: tuple[float, ...]
    action_std: tuple[float, ...]

    @classmethod
    def fit(cls, obs: np.ndarray, actions: np.ndarray) -> Normalization:
        def stats(x: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
            x = np.asarray(x, dtype=np.float64)
            mean, std = x.mean(axis=0), x.std(axis=0)
            std = np.where(std < _STD_FLOOR, 1.0, std)
            return tuple(np.float32(mean).tolist()), tuple(np.float32(std).tolist())

        om, osd = stats(obs)
        am, asd = stats(actions)
        return cls(om, osd, am, asd)

    def obs(self, x: np.ndarray) -> np.ndarray:
        mean, std = np.asarray(self.obs_mean, np.float32), np.asarray(self.obs_std, np.float32)
        return ((np.asarray(x, np.float32) - mean) / std).astype(np.float32)

    def action(self, a: np.ndarray) -> np.ndarray:
        mean, std = np.asarray(self.action_mean, np.float32), np.asarray(self.action_std, np.float32)
        return ((np.asarray(a, np.float32) - mean) / std).astype(np.float32)

    def unaction(self, a_norm: np.ndarray) -> np.ndarray:
        mean, std = np.asarray(self.action_mean, np.float32), np.asarray(self.action_std, np.float32)
        return (np.asarray(a_norm, np.float32) * std + mean).astype(np.float32)


@dataclass(frozen=True)
class PolicyConfig:
    """Self-description of a policy checkpoint (``policy.json``)."""

    encoder: EncoderRef
    action_space: str
    proprio_keys: tuple[str, ...]
    normalization: Normalization
    task_conditioning: str = "none"
    tasks: tuple[str, ...] = ()
    task_dim: int = 0
    hidden_sizes: tuple[int, ...] = (256, 256)
    head: str = "deterministic"
    rate_hz: float = 25.0
    method: str = "rwr"
    extra: dict[str, Any] = field(default_factory=dict)
    format_version: str = FORMAT_VERSION

    def __post_init__(self) -> None:
        action_space(self.action_space)  # raises on an unknown space
        unknown = [k for k in self.proprio_keys if k not in PROPRIO_FEATURES]
        if unknown:
            raise ValueError(f"unknown proprioception keys {unknown}; choose from {sorted(PROPRIO_FEATURES)}")
        if self.task_conditioning not in TASK_CONDITIONING:
            raise ValueError(f"task_conditioning must be one of {TASK_CONDITIONING}")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}")
        if len(self.normalization.obs_mean) != self.obs_dim:
            raise ValueError(
                f"normalisation covers {len(self.normalization.obs_mean)} observation features, "
                f"expected {self.obs_dim} (embedding {self.encoder.embed_dim} + proprio {self.proprio_dim})"
            )
        if len(self.normalization.action_mean) != self.action_dim:
            raise ValueError(f"normalisation covers {len(self.normalization.action_mean)} action dims")

    @property
    def trained_tasks(self) -> tuple[str, ...]:
        """The tasks of the training data: the conditioning table's, else the ones training recorded
        (an unconditioned policy has no table; checkpoints before this field name none)."""
        return self.tasks or tuple(self.extra.get("trained_tasks", ()))

    def only_task(self) -> str:
        """The one task the policy was trained for; ValueError saying why there is none."""
        tasks = self.trained_tasks
        if len(tasks) == 1:
            return tasks[0]
        if not tasks:
            raise ValueError("does not record the task it was trained for (an older checkpoint)")
        raise ValueError(f"knows tasks {list(tasks)}")

    @property
    def action_dim(self) -> int:
        return action_space(self.action_space).dim

    @property
    def proprio_dim(self) -> int:
        return sum(PROPRIO_FEATURES[k] for k in self.proprio_keys)

    @property
    def obs_dim(self) -> int:
        return self.encoder.embed_dim + self.proprio_dim

    @property
    def input_dim(self) -> int:
        return self.obs_dim + self.task_dim

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PolicyConfig:
        d = dict(d)
        version = d.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(
                f"policy format {version!r} is not supported (this vipflow reads {FORMAT_VERSION!r})"
            )
        n = d["normalization"]
        return cls(
            encoder=EncoderRef(**d["encoder"]),
            action_space=d["action_space"],
            proprio_keys=tuple(d["proprio_keys"]),
            normalization=Normalization(
                *(tuple(n[k]) for k in ("obs_mean", "obs_std", "action_mean", "action_std"))
            ),
            task_conditioning=d["task_conditioning"],
            tasks=tuple(d["tasks"]),
            task_dim=int(d["task_dim"]),
            hidden_sizes=tuple(d["hidden_sizes"]),
            head=d["head"],
            rate_hz=float(d["rate_hz"]),
            method=d["method"],
            extra=dict(d.get("extra", {})),
            format_version=version,
        )


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm: text-task embeddings enter the policy direction-only."""
    x = np.asarray(x, np.float32)
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)).astype(np.float32)
