"""The simulated workflow's report: markdown, JSON and the PNGs people want to look at.

reward_curves.png (distance to goal per demo, successes vs failures), training_curves.png (RWR
and BC losses), success_table.png (the runtime's comparison table), report.md tying them
together with the numbers, results.json for machines.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from vipflow.evaluation.table import comparison_table
from vipflow.plots import LabeledCurve, plot_labeled_curves, plot_success_bars
from vipflow.policy.weights import WeightingConfig
from vipflow.runs import read_series
from vipflow.sim.workflow import RewardReport, WorkflowResult, resolved_clip

COLORS = {"success": "tab:green", "failure": "tab:red", "unlabeled": "tab:gray"}


def plot_demo_rewards(rewards: RewardReport, path: Path, title: str) -> Path:
    """Distance to goal (−value) of every demo by label, the goal frames (the successful demos' final
    frames, whose mean embedding is the goal) starred, and the mean per-step reward by label."""
    curves = [LabeledCurve(f"demo {i}", v, label, (len(v) - 1,) if label == "success" else ())
              for i, (label, v) in enumerate(zip(rewards.labels, rewards.values, strict=True))]
    return plot_labeled_curves(path, curves, title=title, fps=25.0)


def plot_training(result: WorkflowResult, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    first = result.config.seed  # one seed's curves: the others look alike and would bury them
    for (method, seed), run_dir in result.policies.items():
        if seed != first:
            continue
        csv_path = run_dir / "metrics.csv"
        series = read_series(csv_path)
        for column, style in (("train_loss", "-"), ("val_loss", "--")):
            points = series.get(column) or []
            if points:
                steps, vals = zip(*points, strict=True)
                name = result.config.policy_name(method)
                ax.plot(steps, vals, style, label=f"{name} {column.replace('_', ' ')} (seed {seed})")
    ax.set_xlabel("step")
    ax.set_ylabel("weighted regression loss")
    ax.set_yscale("log")
    ax.set_title("policy training")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(result: WorkflowResult, out_dir: Path | None = None) -> Path:
    """Write report.md, results.json and the PNGs into ``out_dir``; returns report.md."""
    cfg = result.config
    out = Path(out_dir or cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rewards_png = plot_demo_rewards(result.rewards, out / "reward_curves.png", f"{cfg.task}: demo rewards")
    training_png = plot_training(result, out / "training_curves.png")
    table = comparison_table(result.ledgers.values())
    table_png = table.to_png(out / "success_table.png")
    bars_png = plot_success_bars(table, out / "success_bars.png")
    r = result.rewards
    n_ok = sum(ok for _, ok, _ in result.demos)
    kinds: dict[str, list[int]] = {}
    for _, ok, kind in result.demos:
        kinds.setdefault(kind, []).append(int(ok))
    auroc = "n/a" if r.auroc_final_value is None else f"{r.auroc_final_value:.2f}"
    lines = [
        f"# vipflow demo: {cfg.task}",
        "",
        "Simulated FrankaKitchen (MuJoCo) at 25 Hz, recorded and evaluated through the same episode,",
        "policy and runtime code as the real robot.",
        "",
        "## Setup",
        "",
        f"- encoder: VIP `convnet-small` pretrained on simulated videos of the *other* kitchen tasks, "
        f"`{result.encoder_path}` ({'trained in this run' if result.encoder_trained_now else 'shipped'})",
        f"- demos: {len(result.demos)} episodes of {cfg.horizon} steps, "
        f"{cfg.image_size}×{cfg.image_size} px: {n_ok} success, {len(result.demos) - n_ok} failure "
        f"({', '.join(f'{k}: {sum(v)}/{len(v)} succeeded' for k, v in kinds.items())})",
        f"- policies: MLP [256, 256] on embedding + ee pose + gripper, `ee_delta` actions, "
        f"{cfg.policy_steps} steps (the paper: 20,000); RWR weights exp(τ·R/std(R)) with "
        f"τ = {cfg.temperature}, normalised to mean 1, capped at {_clip_text(cfg)}",
        f"- seeds: demos recorded with seed {cfg.seed}; each policy trained and evaluated with seeds "
        f"{', '.join(map(str, cfg.policy_seeds))}",
        f"- evaluation: {cfg.rollouts} rollouts × {cfg.resolved_eval_horizon} steps per policy and seed",
        f"- resolved task config: `{cfg.task}.yaml`; the simulator's limits profile: `limits.yaml`",
        "",
        "## Rewards",
        "",
        "Goal = mean embedding of the successful demos' final frames; value = −‖e − g‖; "
        "reward = v[t+1] − v[t].",
        "",
        "| VOC (successful demos) | bump rate (successful demos) | AUROC success vs failure (final value) |",
        "|---|---|---|",
        f"| {r.voc_success:.3f} | {r.bump_rate_success:.3f} | {auroc} |",
        "",
        f"![reward curves]({rewards_png.name})",
        "",
        "## Training",
        "",
        "| policy | seed | train loss | validation loss | steps/s | effective sample size |",
        "|---|---|---|---|---|---|",
    ]
    for (method, seed), summary in result.train_summaries.items():
        ess = summary.get("weight_stats", {}).get("ess_fraction")
        cells = [
            result.config.policy_name(method),
            str(seed),
            _fmt(summary.get("train_loss")),
            _fmt(summary.get("val_loss")),
            _fmt(summary.get("steps_per_s"), 0),
            _fmt(ess, 2),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"![training curves]({training_png.name})",
        "",
        "## Evaluation",
        "",
        f"Mean ± std over {cfg.seeds} seed(s) [Wilson 95 % interval on all rollouts pooled].",
        "",
        table.to_markdown(),
        "",
        "Per seed:",
        "",
        "| policy | seed | successes | success % | Wilson 95 % |",
        "|---|---|---|---|---|",
        *[_seed_row(name, seed, led) for (name, seed), led in result.ledgers.items()],
        "",
        f"![success table]({table_png.name})",
        "",
        f"![success rates with Wilson 95 % intervals]({bars_png.name})",
        "",
        "Rollouts are episodes under `evaluation/<policy>/seed<k>/episodes/`; ledgers beside them.",
        "",
        "## Time",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {stage} | {sec:.1f} |" for stage, sec in result.stage_seconds.items()],
        f"| total | {sum(result.stage_seconds.values()):.1f} |",
        "",
        "## Reproduce a stage by hand",
        "",
        "The demo ran exactly these commands' settings (in-process). Run one into another `--out` (or add",
        "`--overwrite`) to get the same policy weights and the same ledger:",
        "",
        "```sh",
        *[line for stage, command in result.commands for line in (f"# {stage}", command)],
        "```",
        "",
    ]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    (out / "results.json").write_text(json.dumps(results_json(result), indent=2))
    return report


def results_json(result: WorkflowResult) -> dict:
    cfg = result.config
    return {
        "task": cfg.task,
        "seed": cfg.seed,
        "encoder": str(result.encoder_path),
        "demos": [{"episode": p.name, "success": ok, "kind": kind} for p, ok, kind in result.demos],
        "rewards": result.rewards.to_json(),
        "seeds": list(result.config.policy_seeds),
        "training": {f"{m} seed{s}": summary for (m, s), summary in result.train_summaries.items()},
        "success": {name: {"rate": rate} for name, rate in result.success_rates().items()},
        "success_per_seed": [
            {"policy": name, "seed": seed, "successes": led.successes, "n": led.n, "rate": led.success_rate}
            for (name, seed), led in result.ledgers.items()
        ],
        "commands": [{"stage": stage, "command": command} for stage, command in result.commands],
        "stage_seconds": result.stage_seconds,
    }


def _clip_text(cfg) -> str:
    clip = WeightingConfig(method="rwr", clip=resolved_clip(cfg.weight_clip)).effective_clip
    return "no cap" if clip in (None, math.inf) else f"{clip:g} × the mean"


def _seed_row(name: str, seed: int, ledger) -> str:
    lo, hi = ledger.summary()["wilson95"]
    rate = "n/a" if ledger.success_rate is None else f"{100 * ledger.success_rate:.0f}"
    return f"| {name} | {seed} | {ledger.successes}/{ledger.n} | {rate} | {100 * lo:.0f}–{100 * hi:.0f} |"


def _fmt(value, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"
