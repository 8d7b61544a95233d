"""VIP / LIV / LSTD losses against hand-computed values, the official formula, and extreme inputs."""

from __future__ import annotations

import math

import pytest
import torch

from vipflow.encoder_training.losses import (
    EPS,
    LIVLossConfig,
    LSTDLossConfig,
    VIPLossConfig,
    liv_loss,
    log_mean_exp,
    lstd_loss,
    negative_permutations,
    vip_loss,
)

G = 0.98

# Two samples, D = 2, stacked [o_start, o_goal, o_k, o_k+1].
# Sample 0: goal (0,0): D(start)=5, D(k)=3, D(k+1)=1.  Sample 1: goal (1,0): D(start)=10, D(k)=5, D(k+1)=2.
VIP_EMB = torch.tensor(
    [
        [[3.0, 4.0], [0.0, 0.0], [0.0, 3.0], [0.0, 1.0]],
        [[7.0, 8.0], [1.0, 0.0], [5.0, 3.0], [1.0, 2.0]],
    ]
)


def lme(*xs: float) -> float:
    return math.log(EPS + sum(math.exp(x) for x in xs) / len(xs))


def test_vip_loss_hand_computed() -> None:
    perms = torch.tensor([[1, 0]])  # sample 0 borrows sample 1's transition and vice versa
    terms = vip_loss(VIP_EMB, VIPLossConfig(num_negatives=1), perms)

    value = (1 - G) * (5 + 10) / 2
    td = lme(1 + G * 1 - 3, 1 + G * 2 - 5)
    # sample 1's (k, k+1) = (5,3), (1,2) against goal (0,0); sample 0's (0,3), (0,1) against goal (1,0)
    negatives = lme(1 + G * math.sqrt(5) - math.sqrt(34), 1 + G * math.sqrt(2) - math.sqrt(10))
    l1 = 0.001 * (7 + 0 + 3 + 1 + 15 + 1 + 8 + 3) / 8
    l2 = 0.001 * (5 + 0 + 3 + 1 + math.sqrt(113) + 1 + math.sqrt(34) + math.sqrt(5)) / 8

    expected = {"value": value, "td": td, "negatives": negatives, "l1": l1, "l2": l2}
    for name, want in expected.items():
        assert terms[name].item() == pytest.approx(want, rel=1e-6), name
    assert terms["loss"].item() == pytest.approx(sum(expected.values()), rel=1e-6)


def test_vip_loss_without_negatives_has_no_negative_term() -> None:
    terms = vip_loss(VIP_EMB, VIPLossConfig(num_negatives=0, l1weight=0, l2weight=0))
    assert "negatives" not in terms
    assert terms["loss"].item() == pytest.approx((1 - G) * 7.5 + lme(1 + G - 3, 1 + 2 * G - 5), rel=1e-6)


def test_lstd_loss_hand_computed() -> None:
    terms = lstd_loss(VIP_EMB, LSTDLossConfig(l1weight=0.0, l2weight=0.0))
    # delta = r + gamma V(k+1) - V(k) = -1 - gamma D(k+1) + D(k)
    td = ((-1 - G * 1 + 3) ** 2 + (-1 - G * 2 + 5) ** 2) / 2
    assert terms["td"].item() == pytest.approx(td, rel=1e-6)
    assert terms["loss"].item() == pytest.approx(td, rel=1e-6)
    assert set(terms) == {"td", "l1", "l2", "loss"}


# LIV: [o_start, o_end, o_k, o_k+1, o_text] and the text embedding. S = cos / (1 - gamma) = 50 cos.
LIV_IMG = torch.tensor(
    [
        [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 2.0], [0.0, 1.0]],
        [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]],
    ]
)
LIV_TXT = torch.tensor([[0.0, 3.0], [2.0, 0.0]])  # same directions as the end frames


def test_liv_loss_hand_computed() -> None:
    cfg = LIVLossConfig(clipweight=1.0, visionweight=1.0, langweight=0.5, num_negatives=0)
    terms = liv_loss(LIV_IMG, LIV_TXT, cfg)
    s = 1 / (1 - G)
    value = (1 - G) * -(s * 0 + s * 1) / 2  # = -mean(cos(start, end))
    td = lme(s * math.sqrt(0.5) + 1 - G * s * 1, s * 0 + 1 - G * s * 1)
    # text frames and texts are aligned: cosine logits = identity, temperature 1, both directions
    clip = math.log(1 + math.exp(-1))
    assert value == pytest.approx(-0.5)
    assert terms["clip"].item() == pytest.approx(clip, rel=1e-6)
    assert terms["vip_i_value"].item() == pytest.approx(value, rel=1e-6)
    assert terms["vip_i_td"].item() == pytest.approx(td, rel=1e-6)
    # the text goals point where the end frames point, so VIP-L equals VIP-I, weighted by 0.5
    assert terms["vip_l_value"].item() == pytest.approx(0.5 * value, rel=1e-6)
    assert terms["vip_l_td"].item() == pytest.approx(0.5 * td, rel=1e-6)
    assert terms["loss"].item() == pytest.approx(clip + 1.5 * (value + td), rel=1e-6)


def test_liv_infonce_uses_text_frame_not_end_frame() -> None:
    img = LIV_IMG.clone()
    img[:, 1] = img[:, 1].flip(0)  # swap end frames between samples: InfoNCE must not change
    a = liv_loss(LIV_IMG, LIV_TXT, LIVLossConfig())
    b = liv_loss(img, LIV_TXT, LIVLossConfig())
    assert a["clip"].item() == pytest.approx(b["clip"].item())
    assert a["vip_i_td"].item() != pytest.approx(b["vip_i_td"].item())
    assert "vip_l_td" not in a  # finetune default: langweight 0


def official_vip(e: torch.Tensor, perms: torch.Tensor, l1w: float, l2w: float) -> torch.Tensor:
    """The release's arithmetic, literally (no max-shift), in float64."""
    e0, eg, es0, es1 = e.unbind(1)

    def sim(a, b):
        return -torch.linalg.norm(a - b, dim=-1)

    r = -1.0
    loss = (1 - G) * -sim(e0, eg).mean() + torch.log(
        EPS + torch.mean(torch.exp(-(r + G * sim(es1, eg) - sim(es0, eg))))
    )
    vs = torch.cat([sim(es0[p], eg) for p in perms])
    vs1 = torch.cat([sim(es1[p], eg) for p in perms])
    loss = loss + torch.log(EPS + torch.mean(torch.exp(-(r + G * vs1 - vs))))
    flat = e.reshape(-1, e.shape[-1])
    return (
        loss
        + l2w * torch.linalg.norm(flat, ord=2, dim=-1).mean()
        + l1w * torch.linalg.norm(flat, ord=1, dim=-1).mean()
    )


def test_vip_matches_official_arithmetic_value_and_gradient() -> None:
    g = torch.Generator().manual_seed(0)
    e = torch.randn(6, 4, 5, generator=g, dtype=torch.float64) * 3
    perms = negative_permutations(3, 6, g)
    ours_in = e.clone().requires_grad_()
    ref_in = e.clone().requires_grad_()
    ours = vip_loss(ours_in, VIPLossConfig(), perms)["loss"]
    ref = official_vip(ref_in, perms, 0.001, 0.001)
    ours.backward()
    ref.backward()
    assert ours.item() == pytest.approx(ref.item(), rel=1e-12)
    torch.testing.assert_close(ours_in.grad, ref_in.grad, rtol=1e-10, atol=1e-12)


def test_log_mean_exp_is_stable_and_keeps_eps() -> None:
    x = torch.tensor([1000.0, 999.0])  # exp overflows float32 (and float64) here
    assert log_mean_exp(x).item() == pytest.approx(1000 + math.log((1 + math.exp(-1)) / 2), rel=1e-6)
    # very negative exponents: the eps floor of the official formula, log(1e-8)
    assert log_mean_exp(torch.tensor([-500.0, -600.0])).item() == pytest.approx(math.log(EPS), rel=1e-6)
    x = torch.tensor([0.3, -1.2, 2.0], requires_grad=True)
    log_mean_exp(x).backward()
    m = torch.exp(x.detach()).mean()
    torch.testing.assert_close(x.grad, torch.exp(x.detach()) / 3 / (EPS + m))


def test_vip_loss_finite_where_official_overflows() -> None:
    e = VIP_EMB.clone() * 1000  # TD exponents reach ~ +2000
    e[:, 3] *= 50
    e.requires_grad_()
    loss = vip_loss(e, VIPLossConfig(), negative_permutations(3, 2, torch.Generator().manual_seed(1)))["loss"]
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(e.grad).all()
    with torch.no_grad():
        official = official_vip(e.detach().float(), torch.tensor([[1, 0]]), 0.001, 0.001)
    assert not torch.isfinite(official)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_embeddings_are_promoted(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(3)
    e = torch.randn(8, 4, 16, generator=g)
    perms = negative_permutations(3, 8, g)
    ref = vip_loss(e.to(dtype).float(), VIPLossConfig(), perms)["loss"]
    half = e.to(dtype).requires_grad_()
    out = vip_loss(half, VIPLossConfig(), perms)["loss"]
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(ref.item(), rel=1e-6)
    out.backward()
    assert half.grad.dtype == dtype and torch.isfinite(half.grad.float()).all()

    img = torch.randn(8, 5, 16, generator=g).to(dtype)
    txt = torch.randn(8, 16, generator=g).to(dtype)
    liv = liv_loss(img, txt, LIVLossConfig.pretrain(), perms)["loss"]
    assert liv.dtype == torch.float32 and torch.isfinite(liv)


def test_vip_gradient_pulls_k_toward_goal() -> None:
    """Descending the loss moves o_start toward its goal (the value term's job)."""
    e = VIP_EMB.clone().requires_grad_()
    vip_loss(e, VIPLossConfig(num_negatives=0, l1weight=0, l2weight=0))["loss"].backward()
    start, goal = VIP_EMB[0, 0], VIP_EMB[0, 1]
    step = -e.grad[0, 0]  # gradient-descent direction for o_start
    assert torch.dot(step, goal - start) > 0
