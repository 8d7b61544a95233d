"""Per-transition weights of the regression loss: BC (uniform), RWR (VIP eq. 3), AWR.

RWR weights each transition by exp(tau * R) with R the VIP reward (eq. 4); BC is the same loss
with uniform weights. Exponential weights can explode, so they are (by default) normalised to
mean 1 over the training transitions and optionally clipped; the loss then stays on BC's scale.
AWR (Peng et al. 2019) replaces R with an advantage: the discounted return minus a learned
state-value baseline, weight exp(A / beta), clipped at 20 as in the AWR code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from vipflow.config_schema import check_fields, option
from vipflow.policy.errors import NonFiniteDataError
from vipflow.policy.model import build_policy_net, make_optimizer

METHODS = ("rwr", "bc", "awr")
AWR_DEFAULT_CLIP = 20.0


WEIGHTING = "weighting"


@dataclass(frozen=True)
class WeightingConfig:
    """How transitions are weighted in the regression loss (the ``weighting.*`` keys of a run)."""

    method: str = option(
        "rwr", "rwr: exp(tau*R); bc: uniform; awr: exp(A/beta)", flag="--method", choices=METHODS,
        group=WEIGHTING,
    )
    temperature: float = option(
        0.1, "RWR temperature tau, w = exp(tau*R) (VIP paper: 0.1; CloseDrawer: 1)", flag="--tau",
        aliases=("--temperature",), bounds="[0, 1000]", group=WEIGHTING,
    )
    normalize: bool = option(
        True, "normalise weights to mean 1 over the training set (off: raw exp weights)",
        flag="--weight-norm", group=WEIGHTING,
    )
    clip: float | None = option(
        None, "clip weights above MAX after normalisation", flag="--weight-clip", metavar="MAX",
        bounds="(0, inf]", group=WEIGHTING, default_text="none for RWR, 20 for AWR",
    )
    awr_beta: float = option(1.0, "AWR temperature, w = exp(A/beta)", bounds="(0, 1000]", group=WEIGHTING)
    discount: float = option(0.99, "AWR return discount", bounds="[0, 1]", group=WEIGHTING)
    value_steps: int = option(2000, "AWR value-baseline steps", bounds="[1, 10000000]", group=WEIGHTING)

    def __post_init__(self) -> None:
        check_fields(self)

    @property
    def effective_clip(self) -> float | None:
        if self.clip is None and self.method == "awr":
            return AWR_DEFAULT_CLIP
        return self.clip


@dataclass(frozen=True)
class WeightStats:
    """What to look at before trusting a weighted run: is the effective sample size collapsing?"""

    n: int
    min: float
    mean: float
    max: float
    ess: float  # (sum w)^2 / sum w^2
    ess_fraction: float  # ess / n; 1 = uniform (BC), near 0 = a few transitions dominate
    clipped: int

    @classmethod
    def of(cls, w: np.ndarray, clipped: int = 0) -> WeightStats:
        w = np.asarray(w, np.float64)
        ess = float(w.sum() ** 2 / np.square(w).sum()) if len(w) else 0.0
        return cls(
            len(w), float(w.min()), float(w.mean()), float(w.max()), ess, ess / max(len(w), 1), clipped
        )

    def to_json(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"weights over {self.n} transitions: min {self.min:.3g} mean {self.mean:.3g} max {self.max:.3g}, "
            f"effective sample size {self.ess:.1f} ({100 * self.ess_fraction:.0f}%), {self.clipped} clipped"
        )


def discounted_returns(rewards: np.ndarray, episode_index: np.ndarray, discount: float) -> np.ndarray:
    """Monte-Carlo return G_t = r_t + discount * G_{t+1} inside each episode (transitions in order)."""
    out = np.zeros(len(rewards), np.float64)
    running = 0.0
    for i in range(len(rewards) - 1, -1, -1):
        if i == len(rewards) - 1 or episode_index[i + 1] != episode_index[i]:
            running = 0.0
        running = rewards[i] + discount * running
        out[i] = running
    return out


def fit_value_baseline(
    inputs: np.ndarray, returns: np.ndarray, train_mask: np.ndarray, steps: int, seed: int
) -> np.ndarray:
    """V(s) regressed on the returns of the training transitions; predictions for all transitions.

    The policy MLP with one output, trained like the policy (Adam 1e-3); returns are scaled to unit
    std so the same learning rate works whatever the reward scale.
    """
    x = torch.from_numpy(np.asarray(inputs, np.float32))
    scale = float(np.std(returns[train_mask])) or 1.0
    y = torch.from_numpy((np.asarray(returns, np.float32) / scale)[:, None])
    tx, ty = x[torch.from_numpy(train_mask)], y[torch.from_numpy(train_mask)]
    net = build_policy_net(x.shape[1], 1, (256, 256), "deterministic", seed=seed)
    opt = make_optimizer(net, 1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(len(tx), (min(256, len(tx)),), generator=gen)
        loss = net.per_sample_loss(tx[idx], ty[idx]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return net(x)[0][:, 0].double().numpy() * scale


def compute_weights(
    config: WeightingConfig,
    rewards: np.ndarray,
    train_mask: np.ndarray,
    *,
    episode_index: np.ndarray | None = None,
    inputs: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, WeightStats]:
    """Weights for every transition (train and validation) and the training-set statistics.

    ``rewards`` are per-transition rewards in episode order; AWR also needs ``episode_index``
    and the (normalised) policy ``inputs`` for its value baseline.
    """
    rewards = np.asarray(rewards, np.float64)
    train_mask = np.asarray(train_mask, bool)
    if not np.isfinite(rewards).all():
        raise NonFiniteDataError(
            f"{int((~np.isfinite(rewards)).sum())} rewards are NaN or inf; check the embeddings and the goal"
        )
    if config.method == "bc":
        w = np.ones(len(rewards))
        return w.astype(np.float32), WeightStats.of(w[train_mask])
    if config.method == "rwr":
        logw = config.temperature * rewards
    else:
        if episode_index is None or inputs is None:
            raise ValueError("AWR weights need episode_index and inputs")
        returns = discounted_returns(rewards, episode_index, config.discount)
        baseline = fit_value_baseline(inputs, returns, train_mask, config.value_steps, seed)
        logw = (returns - baseline) / config.awr_beta
    if config.normalize:
        # log-mean-exp over the training set: exact normalisation without overflow
        top = logw[train_mask].max()
        logw = logw - (top + np.log(np.mean(np.exp(logw[train_mask] - top))))
    with np.errstate(over="ignore"):
        w = np.exp(logw)
    if not np.isfinite(w).all():
        raise NonFiniteDataError(
            f"weights overflow (largest exponent {logw.max():.1f}); enable weight normalisation, lower the "
            "temperature or set a weight clip"
        )
    clip = config.effective_clip
    clipped = 0
    if clip is not None:
        clipped = int((w[train_mask] > clip).sum())
        w = np.minimum(w, clip)
    return w.astype(np.float32), WeightStats.of(w[train_mask], clipped)
