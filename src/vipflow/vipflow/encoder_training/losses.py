"""VIP, LIV and LSTD objectives, computed the way the official trainers compute them.

Where the official code (facebookresearch/vip ``trainer.py``, penn-pal-lab/LIV ``trainer.py``)
and the papers disagree, we follow the code, because the released weights were trained with it:

* The TD term is a log-**mean**-exp with an additive ``eps``: ``log(eps + mean(exp(x)))``.
  The VIP pseudocode (Alg. 3) writes ``logsumexp``, which is offset by ``log B`` (same gradient).
* Its exponent is ``-(r + gamma * V(o_k+1) - V(o_k))`` with the self-supervised reward
  ``r = 1[k == end] - 1``, which is always -1 for the sampled indices. Only this sign drives the
  distance to the goal down along a video (the paper's eq. 6 as transcribed has the other sign).
* Negatives (other videos' transitions scored against this sample's goal) get their **own**
  log-mean-exp term over all ``num_negatives * B`` pairs; the paper puts them inside the first.
  A permutation may map a sample to itself, as in the official code.
* VIP's "L1/L2 weight penalty" is ``l1 * mean ||phi||_1 + l2 * mean ||phi||_2`` over all embeddings
  in the batch (non-squared norms of the embeddings, not weight decay).
* LIV's InfoNCE uses the near-end "text frame" (not the goal frame), cosine logits at
  temperature 1, and the symmetric cross-entropy; the paper writes a one-directional loss with a
  ``(1 - gamma)`` factor.

What we change on purpose: the official code evaluates ``exp`` without a max-shift (float64 for
the main term because the reward collates to float64; float32 for the negatives, which overflows
above ~88). Here every log-mean-exp is a shifted ``logsumexp`` and ``eps`` enters through
``logaddexp``, so value and gradient equal the literal formula wherever that one is finite, and
stay finite everywhere else. Embeddings arriving in fp16/bf16 (autocast) are promoted to fp32
before any arithmetic, so the loss is never evaluated in a half type.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

EPS = 1e-8
SELF_SUPERVISED_REWARD = -1.0

Similarity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LossTerms = dict[str, torch.Tensor]


def _promote(x: torch.Tensor) -> torch.Tensor:
    """fp16/bf16 -> fp32; fp32 and fp64 stay as they are."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def log_mean_exp(x: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """``log(eps + mean(exp(x)))`` over every element of ``x``, without overflow.

    log-mean-exp = logsumexp(x) - log(n); ``logsumexp`` shifts by the maximum internally and
    ``logaddexp`` adds ``eps`` in log space, so the official ``eps`` semantics are kept exactly:
    the result is bounded below by ``log(eps)`` and its gradient is
    ``softmax(x) * mean_exp / (eps + mean_exp)``.
    """
    x = _promote(x).reshape(-1)
    lme = torch.logsumexp(x, dim=0) - math.log(x.numel())
    return torch.logaddexp(lme, lme.new_tensor(math.log(eps)))


def l2_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """VIP's value: ``-||a - b||_2`` (the gradient at a == b is 0, not NaN)."""
    return -torch.linalg.vector_norm(a - b, dim=-1)


def scaled_cosine(gamma: float) -> Similarity:
    """LIV's value: ``cos(a, b) / (1 - gamma)``, in [-50, 50] for gamma = 0.98."""

    def similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return F.cosine_similarity(a, b, dim=-1) / (1.0 - gamma)

    return similarity


def negative_permutations(num_negatives: int, batch: int, generator: torch.Generator | None) -> torch.Tensor:
    """``(num_negatives, batch)`` index permutations picking other samples' transitions.

    Drawn by the caller so that every DDP rank (and a resumed run) uses the same ones.
    """
    if num_negatives == 0:
        return torch.empty(0, batch, dtype=torch.long)
    return torch.stack([torch.randperm(batch, generator=generator) for _ in range(num_negatives)])


def value_objective(
    sim: Similarity,
    e0: torch.Tensor,
    ek: torch.Tensor,
    ek1: torch.Tensor,
    goal: torch.Tensor,
    gamma: float,
    eps: float = EPS,
    perms: torch.Tensor | None = None,
) -> LossTerms:
    """The VIP objective for one kind of goal (image goal for VIP and VIP-I, text for VIP-L).

    ``value``     = (1 - gamma) * mean(-V(o_0; g))
    ``td``        = log(eps + mean(exp(-(r + gamma * V(o_k+1; g) - V(o_k; g))))),  r = -1
    ``negatives`` = the same log-mean-exp over other samples' (o_k, o_k+1), this sample's g.
    """
    r = SELF_SUPERVISED_REWARD
    terms: LossTerms = {
        "value": (1.0 - gamma) * (-sim(e0, goal)).mean(),
        "td": log_mean_exp(-(r + gamma * sim(ek1, goal) - sim(ek, goal)), eps),
    }
    if perms is not None and perms.numel() > 0:
        perms = perms.to(ek.device)
        vk = torch.cat([sim(ek[p], goal) for p in perms])
        vk1 = torch.cat([sim(ek1[p], goal) for p in perms])
        terms["negatives"] = log_mean_exp(-(r + gamma * vk1 - vk), eps)
    return terms


def embedding_penalty(embeddings: torch.Tensor, l1weight: float, l2weight: float) -> LossTerms:
    """Mean L1 and L2 norms of all embeddings (VIP/R3M's regulariser), weighted."""
    flat = embeddings.reshape(-1, embeddings.shape[-1])
    return {
        "l1": l1weight * torch.linalg.vector_norm(flat, ord=1, dim=-1).mean(),
        "l2": l2weight * torch.linalg.vector_norm(flat, ord=2, dim=-1).mean(),
    }


def _total(terms: LossTerms) -> LossTerms:
    terms["loss"] = torch.stack(list(terms.values())).sum()
    return terms


@dataclass(frozen=True)
class VIPLossConfig:
    """Release defaults of ``cfgs/config_vip_ego4d.yaml`` (gamma is not configurable there)."""

    gamma: float = 0.98
    l1weight: float = 0.001
    l2weight: float = 0.001
    num_negatives: int = 3
    eps: float = EPS


def vip_loss(embeddings: torch.Tensor, cfg: VIPLossConfig, perms: torch.Tensor | None = None) -> LossTerms:
    """VIP on ``(B, 4, D)`` embeddings stacked ``[o_start, o_goal, o_k, o_k+1]``.

    Returns the weighted terms (``value``, ``td``, ``negatives``, ``l1``, ``l2``) and their sum
    under ``loss``.
    """
    emb = _promote(embeddings)
    e0, eg, ek, ek1 = emb.unbind(1)
    terms = value_objective(l2_similarity, e0, ek, ek1, eg, cfg.gamma, cfg.eps, perms)
    terms.update(embedding_penalty(emb, cfg.l1weight, cfg.l2weight))
    return _total(terms)


@dataclass(frozen=True)
class LSTDLossConfig:
    """VIP's LSTD ablation (paper App. I.1): same model, data and penalty, squared TD error."""

    gamma: float = 0.98
    l1weight: float = 0.001
    l2weight: float = 0.001


def lstd_loss(embeddings: torch.Tensor, cfg: LSTDLossConfig) -> LossTerms:
    """``mean((r + gamma * V(o_k+1; g) - V(o_k; g))^2)`` with r = -1 and V = -L2, plus the penalty.

    Same ``(B, 4, D)`` stack as :func:`vip_loss`; there is no initial-state term and no
    negatives (the paper's eq. 31 has neither, and no official code was released).
    """
    emb = _promote(embeddings)
    _, eg, ek, ek1 = emb.unbind(1)
    delta = SELF_SUPERVISED_REWARD + cfg.gamma * l2_similarity(ek1, eg) - l2_similarity(ek, eg)
    terms: LossTerms = {"td": delta.square().mean()}
    terms.update(embedding_penalty(emb, cfg.l1weight, cfg.l2weight))
    return _total(terms)


@dataclass(frozen=True)
class LIVLossConfig:
    """Defaults of LIV's ``training/finetune.yaml`` (lang 0, no negatives); see :meth:`pretrain`."""

    gamma: float = 0.98
    clipweight: float = 1.0
    visionweight: float = 1.0
    langweight: float = 0.0
    num_negatives: int = 0
    eps: float = EPS

    @classmethod
    def pretrain(cls) -> LIVLossConfig:
        """``training/pretrain.yaml``: all three objectives, three negatives."""
        return cls(langweight=1.0, num_negatives=3)


def info_nce(image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """Symmetric cross-entropy over cosine logits at temperature 1 (LIV's ``compute_clip_loss``)."""
    logits = F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T
    labels = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def liv_loss(
    image_embeddings: torch.Tensor,
    text_embeddings: torch.Tensor,
    cfg: LIVLossConfig,
    perms: torch.Tensor | None = None,
) -> LossTerms:
    """LIV on ``(B, 5, D)`` image embeddings ``[o_start, o_end, o_k, o_k+1, o_text]`` and ``(B, D)``
    text embeddings.

    Terms (already weighted): ``clip`` (InfoNCE between o_text and the text), ``vip_i_*``
    (VIP with S = cos / (1 - gamma) and the end frame as goal), ``vip_l_*`` (the same with the
    text as goal; only when ``langweight != 0``).
    """
    img = _promote(image_embeddings)
    txt = _promote(text_embeddings)
    e0, eg, ek, ek1, et = img.unbind(1)
    sim = scaled_cosine(cfg.gamma)
    terms: LossTerms = {}
    if cfg.clipweight != 0:
        terms["clip"] = cfg.clipweight * info_nce(et, txt)
    goals = {"vip_i": (cfg.visionweight, eg), "vip_l": (cfg.langweight, txt)}
    for prefix, (weight, goal) in goals.items():
        if weight == 0:
            continue
        for name, term in value_objective(sim, e0, ek, ek1, goal, cfg.gamma, cfg.eps, perms).items():
            terms[f"{prefix}_{name}"] = weight * term
    return _total(terms)


LossConfig = VIPLossConfig | LIVLossConfig | LSTDLossConfig


def compute_loss(
    cfg: LossConfig,
    image_embeddings: torch.Tensor,
    text_embeddings: torch.Tensor | None = None,
    perms: torch.Tensor | None = None,
) -> LossTerms:
    """Dispatch on the loss config's type (the trainer's single entry point)."""
    if isinstance(cfg, VIPLossConfig):
        return vip_loss(image_embeddings, cfg, perms)
    if isinstance(cfg, LSTDLossConfig):
        return lstd_loss(image_embeddings, cfg)
    if text_embeddings is None:
        raise ValueError("the LIV loss needs text embeddings")
    return liv_loss(image_embeddings, text_embeddings, cfg, perms)
