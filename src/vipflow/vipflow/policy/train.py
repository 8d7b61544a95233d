"""``train``: the whole offline pipeline from a TrainConfig (what ``vipflow train`` runs)."""

from __future__ import annotations

import logging

from vipflow.encoders import load_encoder
from vipflow.outputs import check_output_dir
from vipflow.policy.cache import open_cache
from vipflow.policy.embedded_episodes import load_episodes, task_descriptions
from vipflow.policy.goals import demo_goals, embed_texts, explicit_goals
from vipflow.policy.policy_config import EncoderRef
from vipflow.policy.train_config import TrainConfig
from vipflow.policy.trainer import TrainResult, fit
from vipflow.policy.training_set import prepare

log = logging.getLogger(__name__)


def train(cfg: TrainConfig, *, resume: bool = False, on_step=None, encoder=None) -> TrainResult:
    """Episodes -> embeddings (cached) -> rewards and weights -> policy checkpoints in ``cfg.run_dir``.

    ``encoder``: an already loaded ``vipflow.encoders.Encoder`` (default: load ``cfg.encoder``).
    ``resume``: continue ``cfg.run_dir`` from its ``last`` checkpoint (a fresh start if it has none).
    The run directory is checked first (OutputPathError), before any episode is read.
    """
    check_output_dir(cfg.run_dir, datasets=cfg.datasets)
    if encoder is None:
        encoder = load_encoder(cfg.encoder, cfg.encoder_weights, arch=cfg.encoder_arch, device=cfg.device,
                               runtime=cfg.encoder_runtime, precision=cfg.encoder_precision)
    cache = open_cache(cfg.cache_dir)
    episodes = load_episodes(cfg, encoder, cache)
    s = cache.stats
    log.info(
        "embeddings: %d episode(s) from cache, %d encoded (%d frames in %.1f s), %d corrupt entries rebuilt",
        s.hits,
        s.misses,
        s.frames_encoded,
        s.encode_seconds,
        s.rebuilt,
    )
    tasks = sorted({e.task for e in episodes})
    goals = explicit_goals(cfg, encoder, tasks)
    goal_source = "images" if cfg.goal_images else "text" if cfg.goal_text else "demos"
    if goals is None:
        goals = demo_goals(episodes, cfg.goal_last_frames)
    task_texts = None
    if cfg.task_conditioning == "text":
        descriptions = task_descriptions(episodes)
        vectors = embed_texts(encoder, [descriptions[t] for t in tasks], "task")
        task_texts = dict(zip(tasks, vectors, strict=True))
    ref = EncoderRef(encoder.name, encoder.arch, encoder.fingerprint, encoder.embed_dim, encoder.similarity)
    data = prepare(episodes, goals, ref, cfg, task_texts, goal_source)
    log.info("%s: %s", cfg.weighting.method, data.weight_stats.summary())
    warning = data.weight_stats.warning(cfg.weighting)
    if warning:
        log.warning("warning: %s", warning)
    return fit(data, cfg, resume=resume, on_step=on_step)
