"""Value functions fitted before policy training: AWR's Monte-Carlo baseline and IQL's critics.

Both are learned once, on the training transitions, and only turn into per-transition weights;
the policy regression that follows is the same weighted loss as RWR and BC. For IQL this is the
paper's own order (Kostrikov et al. 2022, Algorithm 1: value learning never queries the policy,
so the critics can be trained first and the policy extracted afterwards).

Inputs are the policy's normalised inputs (observation ++ task features) and normalised actions;
rewards are already standardised (``vipflow.policy.weights``), so one learning rate fits every
encoder. Every network is the policy MLP with one output, seeded, and trained with a seeded
batch sampler, so the same data and seed give bit-identical values (a resumed run recomputes them
and proves it with the data hash).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from vipflow.policy.model import PolicyNet, build_policy_net, make_optimizer

VALUE_HIDDEN = (256, 256)
VALUE_BATCH = 256  # AWR's baseline regression
# IQL critics: a quarter of the IQL paper's batch of 256 (three networks per step; a demo set
# holds ~1000 transitions). Lr and Polyak rate as the IQL paper (robomimic: lr 1e-4, rate 0.01).
IQL_BATCH = 64
IQL_LR = 3e-4
IQL_TARGET_RATE = 0.005
IQL_ADVANTAGES = ("td", "q")


@dataclass(frozen=True)
class ValueData:
    """What value learning sees of each transition t (all arrays in episode order, N rows)."""

    inputs: np.ndarray  # (N, D) normalised policy input at tick t
    next_inputs: np.ndarray  # (N, D) the same at tick t+1
    actions: np.ndarray  # (N, A) normalised action a_t
    episode_index: np.ndarray  # (N,)
    success_end: np.ndarray  # (N,) bool: the last transition of an episode labelled success


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


def _scalar_net(input_dim: int, seed: int) -> PolicyNet:
    return build_policy_net(input_dim, 1, VALUE_HIDDEN, "deterministic", seed=seed)


def _predict(net: PolicyNet, x: torch.Tensor) -> torch.Tensor:
    return net(x)[0][:, 0]


def fit_value_baseline(
    inputs: np.ndarray, returns: np.ndarray, train_mask: np.ndarray, steps: int, seed: int
) -> np.ndarray:
    """AWR's V(s), regressed on the returns of the training transitions; predictions for all.

    Adam 1e-3 like the policy; returns are scaled to unit std for the regression.
    """
    x = torch.from_numpy(np.asarray(inputs, np.float32))
    scale = float(np.std(returns[train_mask])) or 1.0
    y = torch.from_numpy((np.asarray(returns, np.float32) / scale)[:, None])
    tx, ty = x[torch.from_numpy(train_mask)], y[torch.from_numpy(train_mask)]
    net = _scalar_net(x.shape[1], seed)
    opt = make_optimizer(net, 1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(len(tx), (min(VALUE_BATCH, len(tx)),), generator=gen)
        loss = net.per_sample_loss(tx[idx], ty[idx]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return _predict(net, x).double().numpy() * scale


def expectile_loss(diff: torch.Tensor, expectile: float) -> torch.Tensor:
    """Asymmetric squared loss |expectile - 1(diff < 0)| * diff^2 with diff = target - prediction:
    V then tracks the ``expectile`` of Q over the dataset's actions (0.5 = the mean, -> 1 = the max)."""
    weight = torch.where(diff > 0, expectile, 1.0 - expectile)
    return (weight * diff.pow(2)).mean()


def fit_iql(
    data: ValueData, rewards: np.ndarray, train_mask: np.ndarray, *, discount: float, expectile: float,
    steps: int, seed: int, advantage: str = "td",
) -> np.ndarray:
    """IQL advantages for every transition after ``steps`` of implicit Q-learning.

    Per step, on a batch of training transitions: Q1, Q2 regress on r + discount * V(s') (no
    terminals: a demo ends by the clock, not in an absorbing state); V regresses on the smaller
    target-Q with the expectile loss; the target Qs follow by Polyak averaging (rate 0.005).

    ``advantage="q"``: min(Q1', Q2')(s, a) - V(s), robomimic's policy extraction. ``"td"``:
    r + discount * V(s') - V(s), the Q networks' own regression target in place of their fit --
    exact for deterministic dynamics, and on ~1000-transition demo sets far less noisy (the
    critics nearly interpolate each transition, so Q - V is mostly their fitting error; see
    docs/training-policies.md for the measurements).
    """
    if advantage not in IQL_ADVANTAGES:
        raise ValueError(f"IQL advantage must be one of {IQL_ADVANTAGES}, got {advantage!r}")
    x = torch.from_numpy(np.asarray(data.inputs, np.float32))
    xn = torch.from_numpy(np.asarray(data.next_inputs, np.float32))
    xa = torch.cat([x, torch.from_numpy(np.asarray(data.actions, np.float32))], dim=1)
    r = torch.from_numpy(np.asarray(rewards, np.float32))
    train_idx = torch.from_numpy(np.nonzero(train_mask)[0])
    q1, q2 = _scalar_net(xa.shape[1], seed + 1), _scalar_net(xa.shape[1], seed + 2)
    v = _scalar_net(x.shape[1], seed + 3)
    targets = [copy.deepcopy(q) for q in (q1, q2)]
    for t in targets:
        t.requires_grad_(False)
    opt_q = make_optimizer(torch.nn.ModuleList([q1, q2]), IQL_LR)
    opt_v = make_optimizer(v, IQL_LR)
    gen = torch.Generator().manual_seed(seed)
    batch = min(IQL_BATCH, len(train_idx))
    for _ in range(steps):
        b = train_idx[torch.randint(len(train_idx), (batch,), generator=gen)]
        with torch.no_grad():
            q_target = r[b] + discount * _predict(v, xn[b])
            q_min = torch.minimum(_predict(targets[0], xa[b]), _predict(targets[1], xa[b]))
        q_loss = sum((_predict(q, xa[b]) - q_target).pow(2).mean() for q in (q1, q2))
        opt_q.zero_grad(set_to_none=True)
        q_loss.backward()
        opt_q.step()
        v_loss = expectile_loss(q_min - _predict(v, x[b]), expectile)
        opt_v.zero_grad(set_to_none=True)
        v_loss.backward()
        opt_v.step()
        with torch.no_grad():
            for target, online in zip(targets, (q1, q2), strict=True):
                for pt, p in zip(target.parameters(), online.parameters(), strict=True):
                    pt.lerp_(p, IQL_TARGET_RATE)
    with torch.no_grad():
        if advantage == "q":
            q = torch.minimum(_predict(targets[0], xa), _predict(targets[1], xa))
        else:
            q = r + discount * _predict(v, xn)
        return (q - _predict(v, x)).double().numpy()
