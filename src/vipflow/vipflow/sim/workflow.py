"""The whole workflow in simulation: what ``vipflow demo`` runs and ``bench/paper`` repeats.

record demos (episodes) → embed and score them against the goal (rewards, VOC, bump rate,
AUROC) → train RWR and BC on the same episodes → evaluation rollouts of each (episodes +
ledgers) → comparison table and report. Every stage is the product's own public API; this
module only wires them together for the simulator and measures.
"""

from __future__ import annotations

import json
import math
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vipflow.demo_config import WorkflowConfig
from vipflow.encoders import Encoder, load_encoder
from vipflow.episodes import list_episodes, read_episode, usable_episodes
from vipflow.episodes.layout import MANIFEST
from vipflow.evaluation.ledger import Ledger
from vipflow.evaluation.run import build_session
from vipflow.interrupt import Interrupted
from vipflow.live.publisher import LivePublisher
from vipflow.metrics import auroc, bump_rate, voc
from vipflow.policy.train import train as train_policy
from vipflow.policy.train_config import TrainConfig
from vipflow.policy.weights import WeightingConfig
from vipflow.progress import inside_stage
from vipflow.rewards import step_rewards, values
from vipflow.sim.demos import record_demos
from vipflow.sim.encoder import kitchen_encoder
from vipflow.sim.reproduce import (
    LIMITS_YAML,
    evaluate_argv,
    evaluation_options,
    shell,
    train_argv,
    write_task_files,
)
from vipflow.sim.tasks import get_task


@dataclass
class RewardReport:
    """Per-episode values against the demo goal and the reward-quality metrics."""

    goal: np.ndarray  # mean final embedding of the successful demos (the policies' default goal)
    labels: list[str]
    kinds: list[str]
    values: list[np.ndarray]
    embeddings: list[np.ndarray]
    voc_success: float
    bump_rate_success: float
    auroc_final_value: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "voc_success_mean": self.voc_success,
            "bump_rate_success_mean": self.bump_rate_success,
            "auroc_final_value": self.auroc_final_value,
            "episodes": [
                {"label": lab, "kind": kind, "values": v.round(4).tolist()}
                for lab, kind, v in zip(self.labels, self.kinds, self.values, strict=True)
            ],
        }


@dataclass
class WorkflowResult:
    config: WorkflowConfig
    encoder_path: Path
    encoder_trained_now: bool
    demos: list[tuple[Path, bool, str]]
    rewards: RewardReport
    # keyed by (method, policy seed) -> its run folder, and (policy name, policy seed)
    policies: dict[tuple[str, int], Path] = field(default_factory=dict)
    train_summaries: dict[tuple[str, int], dict] = field(default_factory=dict)
    ledgers: dict[tuple[str, int], Ledger] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    commands: list[tuple[str, str]] = field(default_factory=list)  # (stage, shell command reproducing it)

    def success_rates(self) -> dict[str, float | None]:
        """Success rate per policy over all its seeds' rollouts."""
        pooled: dict[str, list[Ledger]] = {}
        for (name, _seed), led in self.ledgers.items():
            pooled.setdefault(name, []).append(led)
        return {name: (sum(x.successes for x in leds) / n if (n := sum(x.n for x in leds)) else None)
                for name, leds in pooled.items()}


def episode_embeddings(encoder: Encoder, episode_dir: Path, rate_hz: float = 25.0) -> np.ndarray:
    grid = read_episode(episode_dir).on_grid(rate_hz)
    return encoder.embed_images(grid.frames)


def score_demos(encoder: Encoder, dataset: Path) -> RewardReport:
    """Values of every demo against the mean final embedding of the successful ones (VIP App. F)."""
    episodes = usable_episodes(dataset)
    embeddings = [episode_embeddings(encoder, s.path) for s in episodes]
    labels = [s.label for s in episodes]
    kinds = [next((t for t in s.meta.tags if t == "expert" or t.startswith("failure")), "") for s in episodes]
    finals = [e[-1] for e, lab in zip(embeddings, labels, strict=True) if lab == "success"]
    if not finals:
        raise ValueError(f"no successful demo in {dataset}: no goal to score against")
    goal = np.mean(finals, axis=0)
    vals = [values(e, goal, encoder.similarity) for e in embeddings]
    good = [v for v, lab in zip(vals, labels, strict=True) if lab == "success"]
    bad = [v for v, lab in zip(vals, labels, strict=True) if lab == "failure"]
    score = auroc([v[-1] for v in good], [v[-1] for v in bad]) if good and bad else None
    return RewardReport(
        goal=goal,
        labels=labels,
        kinds=kinds,
        values=vals,
        embeddings=embeddings,
        voc_success=float(np.mean([voc(v) for v in good])),
        bump_rate_success=float(np.mean([bump_rate(step_rewards(v)) for v in good])),
        auroc_final_value=score,
    )


def resolved_clip(weight_clip: float | None) -> float | None:
    """The workflow's --weight-clip as a WeightingConfig clip: None keeps the method's default, 0: no cap."""
    return math.inf if weight_clip == 0 else weight_clip
def reward_quality(encoder: Encoder, dataset: Path) -> dict[str, Any]:
    """An encoder's reward quality on a dataset of demos it never trained on: VOC and bump rate
    of the successful ones, each against its own final frame (as VIP evaluates), and the AUROC
    of the final value (goal: the mean final frame of the successes), success vs failure."""
    report = score_demos(encoder, dataset)
    good = [e for e, lab in zip(report.embeddings, report.labels, strict=True) if lab == "success"]
    own = [values(e, e[-1], encoder.similarity) for e in good]
    return {
        "voc": float(np.mean([voc(v) for v in own])),
        "bump_rate": float(np.mean([bump_rate(step_rewards(v)) for v in own])),
        "auroc_final_value": report.auroc_final_value,
        "n_success": len(good),
        "n_failure": report.labels.count("failure"),
    }


def train_config(
    cfg: WorkflowConfig, method: str, dataset: Path, encoder_path: Path, seed: int
) -> TrainConfig:
    return TrainConfig(
        datasets=(str(dataset),),
        run_dir=str(cfg.out_dir / "policies" / method / f"seed{seed}"),
        encoder="vip",
        encoder_weights=str(encoder_path),
        encoder_runtime=cfg.encoder_runtime,
        encoder_precision=cfg.encoder_precision,
        cache_dir=str(cfg.out_dir / "embedding_cache"),
        weighting=WeightingConfig(
            method=method, temperature=cfg.temperature, clip=resolved_clip(cfg.weight_clip)
        ),
        steps=cfg.policy_steps,
        eval_every=max(cfg.policy_steps // 20, 1),
        save_every=cfg.policy_steps,
        log_every=max(cfg.policy_steps // 50, 1),
        seed=seed,
        progress=cfg.progress,
    )


def evaluate_policy(
    cfg: WorkflowConfig, method: str, seed: int, policy_path: Path, live: LivePublisher | None = None,
) -> tuple[Ledger, str]:
    """One evaluation stage through ``evaluate run``'s own session builder, with the options its
    printed command gives; a finished ledger is reused, an interrupted one resumed. (ledger, command)"""
    name = cfg.policy_name(method)
    out = Path(cfg.out_dir) / "evaluation" / name / f"seed{seed}"
    opts, flags = evaluation_options(cfg, policy_path, name, seed, out)
    command = shell(evaluate_argv(opts, flags))
    if (out / "ledger.json").is_file():
        ledger = Ledger.load(out / "ledger.json")
        if len(ledger.judged) == cfg.rollouts:
            return ledger, command
    session = build_session(opts, flags | {"progress": cfg.progress}, resume=(out / "ledger.json").is_file(),
                            live=live)
    ledger = session.run()
    if session.stop_signal is not None:  # the table must never present a cut-short evaluation
        raise Interrupted(session.stop_signal)
    return ledger, command


def kept_outputs(out: Path) -> str:
    """What an interrupted workflow left in ``out``, for the message that replaces the table."""
    out = Path(out)
    kept = []
    demos = out / "demos"
    if demos.is_dir():
        kept.append(f"{sum(s.usable for s in list_episodes(demos))} usable demo episode(s) in {demos}")
    for run in sorted((out / "policies").glob("*/seed*")):
        summary = run / "summary.json"
        step = json.loads(summary.read_text())["step"] if summary.is_file() else "no"
        kept.append(f"policy {run.parent.name} {run.name}: checkpoint at step {step} in {run}")
    for ledger in sorted((out / "evaluation").glob("*/seed*/ledger.json")):
        kept.append(f"{len(Ledger.load(ledger).judged)} judged rollout(s) in {ledger}")
    if not kept:
        return f"nothing yet in {out}"
    return "; ".join(kept) + f". Continue with: vipflow demo --out {shlex.quote(str(out))} --resume"


def record_stage(
    cfg: WorkflowConfig, dataset: Path, live: LivePublisher | None
) -> list[tuple[Path, bool, str]]:
    """The demos: recorded, or (``demo --resume``) the ones a finished recording left (its manifest is
    written last). An unfinished recording is kept beside, renamed ``demos.interrupted-N``, and the
    demos are recorded again (the same seed records the same demos)."""
    expected = cfg.n_expert + cfg.n_failure
    if (dataset / MANIFEST).is_file():
        episodes = usable_episodes(dataset)
        if len(episodes) == expected:
            return [(e.path, e.label == "success", _kind(e)) for e in episodes]
    if dataset.exists():
        n = 1
        while dataset.with_name(f"{dataset.name}.interrupted-{n}").exists():
            n += 1
        dataset.rename(dataset.with_name(f"{dataset.name}.interrupted-{n}"))
    return record_demos(
        dataset, cfg.task, n_expert=cfg.n_expert, n_failure=cfg.n_failure, seed=cfg.seed,
        image_size=cfg.image_size, progress=cfg.progress, live=live,
    )


def _kind(episode) -> str:
    return next((t for t in episode.meta.tags if t == "expert" or t.startswith("failure")), "")


def run_workflow(cfg: WorkflowConfig, say: Callable[[str], None] = print,
                 live: LivePublisher | None = None) -> WorkflowResult:
    """Run every stage, saying what happens; returns everything the report needs. ``live``: a
    Foxglove viewer of the demos being recorded and the evaluation rollouts. What ``cfg.out_dir``
    already holds from the same configuration (``vipflow demo --resume``) is reused: finished
    stages are skipped, an interrupted training or evaluation continues."""
    task = get_task(cfg.task)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.torch_threads)
    clock: dict[str, float] = {}
    n_stages = 5

    def stage(i: int, text: str) -> float:
        say(f"[{i}/{n_stages}] {text}")
        return time.perf_counter()

    t = stage(1, f"kitchen encoder for {task.name} (VIP, convnet-small, pretrained on the other tasks)")
    if cfg.encoder_weights is not None:
        encoder_path, trained_now = Path(cfg.encoder_weights), False
        encoder = load_encoder("vip", encoder_path)
    else:
        encoder, encoder_path, trained_now = kitchen_encoder(
            task.name, cache_dir=out / "encoder", config=cfg.encoder_config, progress=cfg.progress,
            force_train=cfg.train_encoder,
        )
    encoder = encoder.with_inference(cfg.encoder_runtime, cfg.encoder_precision)
    say(f"      {'trained' if trained_now else 'loaded'} {encoder_path} ({encoder.inference_tag})")
    clock["encoder"] = time.perf_counter() - t

    t = stage(2, f"recording {cfg.n_expert} expert + {cfg.n_failure} failed demos of {task.name} "
                 f"({cfg.horizon} steps at 25 Hz, {cfg.image_size}x{cfg.image_size} px)")
    dataset = out / "demos"
    demos = record_stage(cfg, dataset, live)
    ok = sum(success for _, success, _ in demos)
    say(f"      {len(demos)} episodes in {dataset}: {ok} success, {len(demos) - ok} failure")
    task_file = write_task_files(cfg, dataset, encoder_path)
    say(f"      resolved task config: {task_file} (limits: {task_file.with_name(LIMITS_YAML).name})")
    clock["record"] = time.perf_counter() - t

    t = stage(3, "rewards: per-frame values against the demos' mean final frame; VOC, bump rate, AUROC")
    rewards = score_demos(encoder, dataset)
    auroc_text = "n/a" if rewards.auroc_final_value is None else f"{rewards.auroc_final_value:.2f}"
    say(f"      VOC {rewards.voc_success:.2f}, bump rate {rewards.bump_rate_success:.2f} (successful demos); "
        f"AUROC success vs failure {auroc_text}")
    clock["rewards"] = time.perf_counter() - t

    result = WorkflowResult(cfg, encoder_path, trained_now, demos, rewards, stage_seconds=clock)
    names = ", ".join(cfg.policy_name(m) for m in cfg.methods)
    seeds = ", ".join(map(str, cfg.policy_seeds))
    t = stage(4, f"training {names} on all {len(demos)} demos ({cfg.policy_steps} steps each; seeds {seeds})")
    train_policies(cfg, dataset, encoder, encoder_path, result, say)
    clock["train"] = time.perf_counter() - t

    t = stage(5, f"evaluation: {cfg.rollouts} rollouts of {cfg.resolved_eval_horizon} steps per policy and "
                 "seed")
    evaluate_policies(cfg, result, say, live)
    clock["evaluate"] = time.perf_counter() - t
    return result


def train_policies(
    cfg: WorkflowConfig, dataset: Path, encoder: Encoder, encoder_path: Path, result: WorkflowResult,
    say: Callable[[str], None] = print,
) -> None:
    """Train each method and seed on ``dataset``; a run that already reached its steps is reused, an
    interrupted one continues from its last checkpoint."""
    for seed in cfg.policy_seeds:
        for method in cfg.methods:
            tcfg = train_config(cfg, method, dataset, encoder_path, seed)
            result.commands.append((f"train {cfg.policy_name(method)} seed {seed}", shell(train_argv(tcfg))))
            summary_path = Path(tcfg.run_dir) / "summary.json"
            done = summary_path.is_file() and json.loads(summary_path.read_text())["step"] >= tcfg.steps
            if not done:
                with inside_stage():
                    trained = train_policy(tcfg, encoder=encoder, resume=True)
                if trained.stop_signal is not None:  # never compare a half-trained policy
                    raise Interrupted(trained.stop_signal)
            summary = json.loads(summary_path.read_text())
            result.policies[(method, seed)] = Path(tcfg.run_dir)  # its last checkpoint is the policy
            result.train_summaries[(method, seed)] = summary
            val = summary["val_loss"]
            say(f"      {cfg.policy_name(method)} seed {seed}: train loss {summary['train_loss']:.4f}, "
                f"validation loss {'n/a' if val is None else f'{val:.4f}'}")


def evaluate_policies(
    cfg: WorkflowConfig, result: WorkflowResult, say: Callable[[str], None] = print,
    live: LivePublisher | None = None,
) -> None:
    """Evaluate every trained policy and seed (``result.policies``) as ``evaluate run`` does."""
    for (method, seed), run_dir in result.policies.items():
        name = cfg.policy_name(method)
        with inside_stage():
            ledger, command = evaluate_policy(cfg, method, seed, run_dir, live)
        result.commands.append((f"evaluate {name} seed {seed}", command))
        result.ledgers[(name, seed)] = ledger
        say(f"      {name} seed {seed}: {ledger.successes}/{ledger.n} successful")
