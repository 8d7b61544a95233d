"""Per-transition weights of the regression loss: BC (uniform), RWR (VIP eq. 3), AWR, IQL.

RWR weights each transition by exp(tau * R) with R the VIP reward (eq. 4); BC is the same loss
with uniform weights. AWR (Peng et al. 2019) replaces R with an advantage, the discounted return
minus a learned state-value baseline; IQL (Kostrikov et al. 2022) with Q(s, a) - V(s) from an
expectile value function and TD-trained critics (``vipflow.policy.values``).

Rewards are first **standardised**: divided by their standard deviation over the training
transitions (``reward_scale="std"``), so tau, the AWR beta and the IQL beta are in units of one
typical step of progress, whatever encoder made the rewards; the VIP paper's tau = 0.1 / 1 then
mean the same for a ResNet-50 VIP and a small kitchen encoder. Exponential weights can explode, so
they are normalised to mean 1 over the training transitions and clipped (by default); the loss
then stays on BC's scale. The effective sample size (ESS) says how many transitions the policy
effectively learns from; below 5 % a warning names the fix.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from vipflow.config_schema import check_fields, option, require
from vipflow.policy.errors import NonFiniteDataError
from vipflow.policy.values import IQL_ADVANTAGES, ValueData, discounted_returns, fit_iql, fit_value_baseline

METHODS = ("rwr", "bc", "awr", "iql")
REWARD_SCALES = ("std", "raw")
# Weight caps (multiples of the mean weight) when --weight-clip is not given: AWR's code clips at
# 20, robomimic's IQL at 100; RWR at 20 (see docs/training-policies.md: defaults).
DEFAULT_CLIP = {"rwr": 20.0, "awr": 20.0, "iql": 100.0}
DEFAULT_VALUE_STEPS = {"awr": 2_000, "iql": 3_000}
ESS_WARNING_FRACTION = 0.05
VALUE_METHODS = ("awr", "iql")  # methods that learn values from returns (and can use a success bonus)

WEIGHTING = "weighting"


@dataclass(frozen=True)
class WeightingConfig:
    """How transitions are weighted in the regression loss (the ``weighting.*`` keys of a run)."""

    method: str = option(
        "rwr", "rwr: exp(tau*R); bc: uniform; awr: exp(A/awr_beta), A = return - V(s); iql: "
        "exp(iql_beta*A), A from implicit Q-learning", flag="--method", choices=METHODS, group=WEIGHTING,
    )
    temperature: float = option(
        1.0, "RWR temperature tau, w = exp(tau*R) on standardised rewards (VIP paper: 0.1; CloseDrawer: 1)",
        flag="--tau", aliases=("--temperature",), bounds="[0, 1000]", group=WEIGHTING,
    )
    reward_scale: str = option(
        "std", "std: divide rewards by their std over the training transitions before weighting "
        "(tau, betas in units of a typical step); raw: use them as the encoder gives them",
        choices=REWARD_SCALES, group=WEIGHTING,
    )
    normalize: bool = option(
        True, "normalise weights to mean 1 over the training set (off: raw exp weights)",
        flag="--weight-norm", group=WEIGHTING,
    )
    clip: float | None = option(
        None, "cap weights at MAX (with --weight-norm: MAX times the mean weight)", flag="--weight-clip",
        metavar="MAX", bounds="(0, inf]", group=WEIGHTING, default_text="20 for RWR and AWR, 100 for IQL",
    )
    awr_beta: float = option(1.0, "AWR temperature, w = exp(A/beta)", bounds="(0, 1000]", group=WEIGHTING)
    discount: float = option(0.99, "AWR / IQL return discount", bounds="[0, 1]", group=WEIGHTING)
    value_steps: int | None = option(
        None, "value-function steps (AWR baseline; IQL critics)", bounds="[1, 10000000]", group=WEIGHTING,
        default_text="2000 for AWR, 3000 for IQL",
    )
    expectile: float = option(
        0.7, "IQL expectile of V over the dataset's actions (0.5: mean; near 1: max)", bounds="[0.5, 1)",
        group=WEIGHTING,
    )
    # 1, not IQL's MuJoCo 3: on kitchen demos beta 3 leaves an ESS of 1.6-5.3 % (docs/training-policies.md)
    iql_beta: float = option(
        1.0, "IQL inverse temperature, w = exp(beta*A) on standardised rewards", bounds="[0, 1000]",
        group=WEIGHTING,
    )
    iql_advantage: str = option(
        "td", "IQL advantage A: td = r + discount*V(s') - V(s) (the critics' TD target); q = Q(s,a) - V(s) "
        "(robomimic)", choices=IQL_ADVANTAGES, group=WEIGHTING,
    )
    success_bonus: float = option(
        0.0, "AWR / IQL: reward (in standardised units) added to the last transition of each demo "
        "labelled success", bounds="[0, 1000]", group=WEIGHTING,
    )

    def __post_init__(self) -> None:
        check_fields(self)
        require((
            self.success_bonus == 0 or self.method in VALUE_METHODS,
            f"--success-bonus needs a method that learns values ({', '.join(VALUE_METHODS)}), "
            f"not {self.method}",
        ))

    @property
    def effective_clip(self) -> float | None:
        return self.clip if self.clip is not None else DEFAULT_CLIP.get(self.method)

    @property
    def effective_value_steps(self) -> int:
        return self.value_steps if self.value_steps is not None else DEFAULT_VALUE_STEPS.get(self.method, 0)

    def fix_hint(self) -> str:
        """What lowers the weights' spread for this method (named in the low-ESS warning)."""
        knob = {"rwr": "lower --tau", "awr": "raise --awr-beta", "iql": "lower --iql-beta"}[self.method]
        return f"{knob} or cap the weights with a lower --weight-clip (now {self.effective_clip})"


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
    reward_scale: float = 1.0  # what rewards were divided by (their training std, or 1 for raw)

    @classmethod
    def of(cls, w: np.ndarray, clipped: int = 0, reward_scale: float = 1.0) -> WeightStats:
        w = np.asarray(w, np.float64)
        ess = float(w.sum() ** 2 / np.square(w).sum()) if len(w) else 0.0
        return cls(
            len(w), float(w.min()), float(w.mean()), float(w.max()), ess, ess / max(len(w), 1), clipped,
            reward_scale,
        )

    def to_json(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"weights over {self.n} transitions: min {self.min:.3g} mean {self.mean:.3g} max {self.max:.3g}, "
            f"effective sample size {self.ess:.1f} ({100 * self.ess_fraction:.1f}%), {self.clipped} clipped; "
            f"rewards divided by {self.reward_scale:.3g}"
        )

    def warning(self, config: WeightingConfig) -> str | None:
        """A one-line warning when a few transitions carry the loss (ESS below 5 %), with the fix."""
        if config.method == "bc" or self.ess_fraction >= ESS_WARNING_FRACTION:
            return None
        return (
            f"effective sample size is {100 * self.ess_fraction:.1f}% of the {self.n} training transitions "
            f"(< {100 * ESS_WARNING_FRACTION:.0f}%): a handful of transitions drive the policy; "
            f"{config.fix_hint()}"
        )


def reward_scale(rewards: np.ndarray, train_mask: np.ndarray, mode: str) -> float:
    """The dataset scale rewards are divided by: their std over the training transitions ("std"),
    or 1 ("raw", or when the rewards are constant and there is nothing to rank)."""
    if mode == "raw":
        return 1.0
    std = float(np.std(rewards[train_mask])) if train_mask.any() else 0.0
    return std if std > 1e-12 else 1.0


def compute_weights(
    config: WeightingConfig,
    rewards: np.ndarray,
    train_mask: np.ndarray,
    values: ValueData | None = None,
    *,
    seed: int = 0,
) -> tuple[np.ndarray, WeightStats]:
    """Weights for every transition (train and validation) and the training-set statistics.

    ``rewards`` are per-transition rewards in episode order; AWR and IQL also need ``values``
    (normalised inputs, next inputs, actions, episode index, success ends) to learn values.
    """
    rewards = np.asarray(rewards, np.float64)
    train_mask = np.asarray(train_mask, bool)
    if not np.isfinite(rewards).all():
        raise NonFiniteDataError(
            f"{int((~np.isfinite(rewards)).sum())} rewards are NaN or inf; check the embeddings and the goal"
        )
    scale = reward_scale(rewards, train_mask, config.reward_scale)
    if config.method == "bc":
        w = np.ones(len(rewards))
        return w.astype(np.float32), WeightStats.of(w[train_mask], reward_scale=scale)
    r = rewards / scale
    if config.method == "rwr":
        logw = config.temperature * r
    else:
        if values is None:
            raise ValueError(f"{config.method.upper()} weights need the transitions' values data")
        r = r + config.success_bonus * np.asarray(values.success_end, bool)
        steps = config.effective_value_steps
        if config.method == "awr":
            returns = discounted_returns(r, values.episode_index, config.discount)
            baseline = fit_value_baseline(values.inputs, returns, train_mask, steps, seed)
            logw = (returns - baseline) / config.awr_beta
        else:
            advantage = fit_iql(
                values, r, train_mask, discount=config.discount, expectile=config.expectile, steps=steps,
                seed=seed, advantage=config.iql_advantage,
            )
            logw = config.iql_beta * advantage
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
    return w.astype(np.float32), WeightStats.of(w[train_mask], clipped, scale)
