"""The VIP paper's few-shot offline RL comparison, in simulation: RWR vs BC, two encoders.

For each kitchen task and seed: record demos (experts + failures), train RWR and BC on them
with (a) the sim-pretrained kitchen encoder (VIP on videos of the *other* tasks, the stand-in
for pretraining on human video) and (b) an in-domain-only encoder (VIP trained from scratch on
that task's own seed-0 demos only), and run evaluation rollouts of each. Reported: success %
per (task, encoder, method) as the mean over seeds with a 95 % t-interval, the pooled Wilson
interval, and each encoder's VOC / bump rate / AUROC on held-out demos (never trained on).
BC is the baseline measured in the same run.

    .venv/bin/python bench/paper/run.py                       # full: 4 tasks x 5 seeds
    .venv/bin/python bench/paper/run.py --tasks slide_cabinet --seeds 1 --rollouts 2 \\
        --policy-steps 200 --experts 3 --failures 2 --held-out 2 --encoder-steps 20 \\
        --encoder-videos 2 --work /tmp/paper_work --out /tmp/paper_small.json

Resumable: every finished piece (dataset, encoder, policy run, ledger) is kept under --work and
skipped when run again. Parallel-friendly: ``--shard i/n`` takes every n-th task starting at i
(run n processes, then once more with ``--aggregate`` to write the table).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from vipflow.sim import configure_gl

configure_gl()

from vipflow.demo_config import KitchenEncoderConfig, WorkflowConfig  # noqa: E402
from vipflow.encoders import Encoder, load_encoder  # noqa: E402
from vipflow.episodes import list_episodes  # noqa: E402
from vipflow.evaluation.ledger import Ledger, wilson_interval  # noqa: E402
from vipflow.interrupt import run_script  # noqa: E402
from vipflow.metrics import bump_rate, voc  # noqa: E402
from vipflow.rewards import step_rewards, values  # noqa: E402
from vipflow.sim.demos import record_demos  # noqa: E402
from vipflow.sim.encoder import (  # noqa: E402
    asset_name,
    kitchen_encoder,
    train_kitchen_encoder,
)
from vipflow.sim.reproduce import write_task_files  # noqa: E402
from vipflow.sim.tasks import TASKS  # noqa: E402
from vipflow.sim.workflow import (  # noqa: E402
    WorkflowResult,
    episode_embeddings,
    evaluate_policies,
    score_demos,
    train_policies,
)

ENCODERS = ("sim-pretrained", "in-domain")
HELD_OUT_SEED = 10_000  # held-out demos use starts no training set uses


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=sorted(TASKS), choices=sorted(TASKS))
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--rollouts", type=int, default=10)
    p.add_argument("--experts", type=int, default=10)
    p.add_argument("--failures", type=int, default=10)
    p.add_argument("--held-out", type=int, default=10, help="held-out expert (and as many failed) demos")
    p.add_argument("--policy-steps", type=int, default=WorkflowConfig.policy_steps)
    p.add_argument("--temperature", type=float, default=WorkflowConfig.temperature)
    p.add_argument("--weight-clip", type=float, default=WorkflowConfig.weight_clip)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--encoder-steps", type=int, default=KitchenEncoderConfig().steps,
                   help="VIP steps of encoders trained here (in-domain; sim-pretrained if not shipped)")
    p.add_argument("--encoder-videos", type=int, default=KitchenEncoderConfig().videos_per_task,
                   help="videos per other task when the sim-pretrained encoder must be trained here")
    p.add_argument("--work", type=Path, default=Path("bench/results/paper_work"), help="resumable state")
    p.add_argument("--out", type=Path, default=Path("bench/results/paper.json"))
    p.add_argument("--shard", default="0/1", help="i/n: this process takes tasks i, i+n, ...")
    p.add_argument("--aggregate", action="store_true", help="only aggregate finished results")
    return p.parse_args(argv)


def say(text: str) -> None:
    print(text, flush=True)


def dataset_for(root: Path, task: str, seed: int, n_expert: int, n_failure: int, image_size: int) -> Path:
    """Record once; a complete dataset from an earlier run is reused."""
    ds = root / task / f"seed{seed}" / "demos"
    if ds.is_dir():
        usable = [s for s in list_episodes(ds) if s.usable]
        if len(usable) == n_expert + n_failure:
            return ds
        raise SystemExit(f"{ds} holds {len(usable)} usable episodes, expected {n_expert + n_failure}; "
                         "delete it to re-record")
    record_demos(ds, task, n_expert=n_expert, n_failure=n_failure, seed=seed, image_size=image_size)
    return ds


def encoders_for(
    task: str, args: argparse.Namespace, in_domain_data: Path
) -> dict[str, tuple[Encoder, Path]]:
    enc_cfg = dataclasses.replace(
        KitchenEncoderConfig(),
        steps=args.encoder_steps,
        image_size=args.image_size,
        videos_per_task=args.encoder_videos,
    )
    cache = args.work / "encoders"
    sim_enc, sim_path, trained = kitchen_encoder(task, cache_dir=cache, config=enc_cfg)
    say(f"  sim-pretrained encoder: {'trained' if trained else 'loaded'} {sim_path}")
    own_path = cache / f"in_domain_{asset_name(task)}"
    if own_path.is_file():
        own = load_encoder("vip", own_path)
    else:
        say(f"  training the in-domain-only encoder on {in_domain_data}")
        own = train_kitchen_encoder([in_domain_data], own_path, enc_cfg)
    return {"sim-pretrained": (sim_enc, sim_path), "in-domain": (own, own_path)}


def reward_quality(encoder: Encoder, held_out: Path) -> dict:
    """VOC and bump rate on held-out successful demos (each against its own final frame, as in
    VIP's evaluation), and AUROC of the final value (goal: mean final frame of the successes)."""
    summaries = [s for s in list_episodes(held_out) if s.usable]
    embs = {s.name: episode_embeddings(encoder, s.path) for s in summaries}
    good = [embs[s.name] for s in summaries if s.label == "success"]
    own = [values(e, e[-1], encoder.similarity) for e in good]
    report = score_demos(encoder, held_out)
    return {
        "voc": float(np.mean([voc(v) for v in own])),
        "bump_rate": float(np.mean([bump_rate(step_rewards(v)) for v in own])),
        "auroc_final_value": report.auroc_final_value,
        "n_success": len(good),
        "n_failure": sum(s.label == "failure" for s in summaries),
    }


def run_task(task: str, args: argparse.Namespace) -> None:
    say(f"== {task}")
    root = args.work
    seed0 = dataset_for(root, task, 0, args.experts, args.failures, args.image_size)
    held_out = dataset_for(root, task, HELD_OUT_SEED, args.held_out, args.held_out, args.image_size)
    encoders = encoders_for(task, args, seed0)
    quality_path = root / task / "reward_quality.json"
    if not quality_path.is_file():
        quality = {name: reward_quality(enc, held_out) for name, (enc, _) in encoders.items()}
        quality_path.write_text(json.dumps(quality, indent=2))
    for seed in range(args.seeds):
        dataset = dataset_for(root, task, seed, args.experts, args.failures, args.image_size)
        for name, (encoder, path) in encoders.items():
            t = time.perf_counter()
            cfg = WorkflowConfig(
                task=task, out_dir=root / task / f"seed{seed}" / name, n_expert=args.experts,
                n_failure=args.failures, image_size=args.image_size, seed=seed, encoder_weights=path,
                temperature=args.temperature, weight_clip=args.weight_clip or None,
                policy_steps=args.policy_steps, rollouts=args.rollouts, seeds=1,
                progress=False, policy_prefix=name,
            )
            rewards = score_demos(encoder, dataset)
            result = WorkflowResult(cfg, path, False, [], rewards)
            train_policies(cfg, dataset, encoder, path, result, say)
            cfg.out_dir.mkdir(parents=True, exist_ok=True)
            write_task_files(cfg, dataset, path)  # what the evaluations read, as in the demo
            evaluate_policies(cfg, result, say)
            say(f"  seed {seed} {name}: {result.success_rates()} ({time.perf_counter() - t:.0f} s)")


def t_interval(rates: list[float]) -> tuple[float, float]:
    if len(rates) < 2:
        return float("nan"), float("nan")
    m, se = float(np.mean(rates)), float(stats.sem(rates))
    half = float(stats.t.ppf(0.975, len(rates) - 1)) * se
    return max(0.0, m - half), min(1.0, m + half)


def aggregate(args: argparse.Namespace) -> dict:
    cells = []
    for ledger_path in sorted(args.work.glob("*/seed*/*/evaluation/*/seed*/ledger.json")):
        led = Ledger.load(ledger_path)
        name = str(led.policy["name"])
        encoder, method = name.rsplit("-", 1)
        cells.append((led.task, encoder, method, led.seed, led.successes, led.n))
    rows = []
    for task in sorted({c[0] for c in cells}):
        for encoder in ENCODERS:
            for method in ("RWR", "BC"):
                group = [c for c in cells if c[:3] == (task, encoder, method)]
                if not group:
                    continue
                rates = [s / n for *_, s, n in group]
                succ, n = sum(c[4] for c in group), sum(c[5] for c in group)
                rows.append({
                    "task": task, "encoder": encoder, "method": method, "seeds": len(group),
                    "rollouts": n, "successes": succ, "mean": float(np.mean(rates)),
                    "t95": t_interval(rates), "wilson95": wilson_interval(succ, n),
                    "per_seed": {c[3]: c[4] / c[5] for c in group},
                })
    quality = {
        p.parent.name: json.loads(p.read_text()) for p in sorted(args.work.glob("*/reward_quality.json"))
    }
    return {
        "benchmark": "paper",
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "rows": rows,
        "rwr_minus_bc": rwr_vs_bc(rows),
        "reward_quality": quality,
    }


def find(rows: list[dict], task: str, encoder: str, method: str) -> dict | None:
    return next((x for x in rows if (x["task"], x["encoder"], x["method"]) == (task, encoder, method)), None)


def rwr_vs_bc(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        if r["method"] != "RWR":
            continue
        bc = find(rows, r["task"], r["encoder"], "BC")
        if bc is None:
            continue
        seeds = sorted(set(r["per_seed"]) & set(bc["per_seed"]))
        diffs = [r["per_seed"][s] - bc["per_seed"][s] for s in seeds]
        out.append({"task": r["task"], "encoder": r["encoder"], "mean_diff": float(np.mean(diffs)),
                    "t95": t_interval_signed(diffs), "seeds": len(seeds)})
    return out


def t_interval_signed(diffs: list[float]) -> tuple[float, float]:
    if len(diffs) < 2:
        return float("nan"), float("nan")
    m, se = float(np.mean(diffs)), float(stats.sem(diffs))
    half = float(stats.t.ppf(0.975, len(diffs) - 1)) * se
    return m - half, m + half


def markdown(result: dict) -> str:
    pct = lambda x: f"{100 * x:.0f}"  # noqa: E731
    lines = [
        "| task | encoder | RWR % (95% CI) | BC % (95% CI) | RWR − BC (95% CI) | seeds × rollouts |",
        "|---|---|---|---|---|---|",
    ]
    rows = result["rows"]
    for diff in result["rwr_minus_bc"]:
        r = find(rows, diff["task"], diff["encoder"], "RWR")
        b = find(rows, diff["task"], diff["encoder"], "BC")
        cell = lambda x: f"{pct(x['mean'])} [{pct(x['t95'][0])}, {pct(x['t95'][1])}]"  # noqa: E731
        lo, hi = diff["t95"]
        lines.append(
            f"| {diff['task']} | {diff['encoder']} | {cell(r)} | {cell(b)} | "
            f"{100 * diff['mean_diff']:+.0f} [{100 * lo:+.0f}, {100 * hi:+.0f}] | "
            f"{r['seeds']} × {r['rollouts'] // max(r['seeds'], 1)} |"
        )
    lines += [
        "",
        "Reward quality on held-out demos (never trained on):",
        "",
        "| task | encoder | VOC ↑ | bump rate ↓ | AUROC success vs failure ↑ |",
        "|---|---|---|---|---|",
    ]
    for task, per_encoder in result["reward_quality"].items():
        for encoder, q in per_encoder.items():
            au = "n/a" if q["auroc_final_value"] is None else f"{q['auroc_final_value']:.2f}"
            lines.append(f"| {task} | {encoder} | {q['voc']:.2f} | {q['bump_rate']:.2f} | {au} |")
    lines += [
        "",
        "Success: mean over seeds with a 95 % t-interval over per-seed rates (clipped to [0, 100]); "
        "RWR − BC: paired by seed (same demos, same evaluation starts).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)  # rendering, encoding and training share the CPU; see WorkflowConfig
    if not args.aggregate:
        i, n = (int(x) for x in args.shard.split("/"))
        for task in args.tasks[i::n]:
            run_task(task, args)
    result = aggregate(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    md = markdown(result)
    args.out.with_suffix(".md").write_text(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    run_script(main, "finished stages are kept in --work (demos, encoders, policy checkpoints, judged "
                     "ledgers); run the same command to continue")
