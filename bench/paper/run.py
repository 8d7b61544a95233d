"""The VIP paper's few-shot offline RL comparison in simulation: BC vs RWR vs IQL (and AWR), with a
sim-pretrained, an in-domain (and a random-init) encoder, paired by seed.

For each kitchen task and seed: record demos (10 experts + 10 failures); for each encoder, train
every method on them (the same network, seed and data; only the weights differ) and evaluate all
of that encoder's policies in one paired session: trial t of seed s starts every policy from
reset seed 1000 s + t, so per-seed differences and the McNemar test compare like with like.

    .venv/bin/python bench/paper/run.py                                   # 4 tasks x 5 seeds (0-4)
    .venv/bin/python bench/paper/run.py --shard 0/2 & .venv/bin/python bench/paper/run.py --shard 1/2
    .venv/bin/python bench/paper/run.py --aggregate                       # the table from finished work
    .venv/bin/python bench/paper/run.py --tasks slide_cabinet --seeds 0-1 --rollouts 2 \\
        --policy-steps 200 --experts 3 --failures 2 --held-out 2 --encoder-steps 20 \\
        --work /tmp/paper_work --out /tmp/paper.json                      # a smoke run

Encoders: ``sim-pretrained`` (the shipped kitchen encoder that never saw the task),
``in-domain`` (VIP from scratch on the task's seed-0 successful demos), ``random-init`` (the same
network, untrained). Methods: ``bc``, ``rwr``, ``awr``, ``iql`` with the training defaults, or a
variant for tuning, ``rwr:temperature=0.5``, ``iql:iql_beta=1:expectile=0.9`` (any WeightingConfig
key). Tune only on seeds you do not report (docs/simulation.md: seeds 100-102).

Resumable: every finished piece (dataset, encoder, policy run, paired session) is kept under
--work and skipped when run again; a policy run or paired session cut short continues where it
stopped. Shardable: ``--shard i/n`` takes every n-th (task, seed) unit; the per-task pieces that
units share (held-out demos, encoders, reward quality) are made under a file lock by whichever
shard needs them first. ``--aggregate`` (also run at the end of every shard) writes --out:
``{"rows": [...], "reward_quality": [...]}`` (docs/simulation.md defines every field), the
details (per-seed rates, pooled Wilson and McNemar, stage times, the full-run cost estimate) in
``<out>_details.json``, and the table as ``<out>.md`` and ``<out>.png``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import math
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from vipflow.sim import configure_gl

configure_gl()

from vipflow.benchmark import finished, machine, write_report  # noqa: E402
from vipflow.config_schema import ConfigError, from_flat  # noqa: E402
from vipflow.demo_config import KitchenEncoderConfig, WorkflowConfig  # noqa: E402
from vipflow.encoders import Encoder, load_encoder, save_encoder  # noqa: E402
from vipflow.episodes import list_episodes, read_episode  # noqa: E402
from vipflow.evaluation.ledger import Ledger, wilson_interval  # noqa: E402
from vipflow.evaluation.paired import PairedSession, load_session  # noqa: E402
from vipflow.evaluation.run import build_session  # noqa: E402
from vipflow.evaluation.table import paired_difference  # noqa: E402
from vipflow.interrupt import Interrupted, run_script  # noqa: E402
from vipflow.policy import latest_checkpoint  # noqa: E402
from vipflow.policy.train import train  # noqa: E402
from vipflow.policy.weights import WeightingConfig  # noqa: E402
from vipflow.sim.demos import record_demos  # noqa: E402
from vipflow.sim.encoder import kitchen_encoder, train_kitchen_encoder  # noqa: E402
from vipflow.sim.reproduce import evaluation_options, write_task_files  # noqa: E402
from vipflow.sim.tasks import TASKS, get_task  # noqa: E402
from vipflow.sim.workflow import reward_quality, train_config  # noqa: E402

ENCODERS = ("sim-pretrained", "in-domain", "random-init")
HELD_OUT_SEED = 10_000  # held-out demos use starts no training set uses
PAPER_METHODS = ("bc", "rwr", "awr", "iql")


# -- what to run ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Method:
    """A method as trained here: its label (table column, folder name) and its weighting."""

    label: str
    weighting: WeightingConfig

    @classmethod
    def parse(cls, spec: str) -> Method:
        """``rwr`` or ``rwr:temperature=0.5:clip=50`` (WeightingConfig keys)."""
        name, *pairs = spec.split(":")
        values_ = dict(p.split("=", 1) for p in pairs if "=" in p)
        if len(values_) != len(pairs):
            raise argparse.ArgumentTypeError(
                f"method {spec!r}: give overrides as key=value, e.g. rwr:temperature=1"
            )
        try:
            weighting = from_flat(WeightingConfig, {"method": name, **values_}, from_text=True, where=spec)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return cls(spec.replace(":", "_"), weighting)


def parse_seeds(text: str) -> list[int]:
    """``0-4``, ``100,101,102`` or ``0-2,7``."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=sorted(TASKS), choices=sorted(TASKS))
    p.add_argument(
        "--seeds",
        type=parse_seeds,
        default=parse_seeds("0-4"),
        help="reported seeds, e.g. 0-4 or 100,101,102 (default: 0-4)",
    )
    p.add_argument("--encoders", nargs="+", default=["sim-pretrained", "in-domain"], choices=ENCODERS)
    p.add_argument(
        "--methods",
        nargs="+",
        type=Method.parse,
        default=[Method.parse(m) for m in ("bc", "rwr", "iql")],
        help="bc, rwr, awr, iql, or variants such as rwr:temperature=0.5 (default: bc rwr iql)",
    )
    p.add_argument("--rollouts", type=int, default=10, help="paired trials per seed (rollouts per policy)")
    p.add_argument("--experts", type=int, default=10)
    p.add_argument("--failures", type=int, default=10)
    p.add_argument("--held-out", type=int, default=10, help="held-out expert (and as many failed) demos")
    p.add_argument(
        "--no-reward-quality",
        dest="reward_quality",
        action="store_false",
        help="skip the held-out demos and the encoders' VOC / bump rate / AUROC",
    )
    p.add_argument("--policy-steps", type=int, default=WorkflowConfig.policy_steps)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument(
        "--encoder-steps",
        type=int,
        default=KitchenEncoderConfig.steps,
        help="VIP steps of encoders trained here (in-domain; sim-pretrained if not shipped)",
    )
    p.add_argument(
        "--encoder-videos",
        type=int,
        default=KitchenEncoderConfig.expert_videos,
        help="videos per other task when the sim-pretrained encoder must be trained here",
    )
    p.add_argument("--work", type=Path, default=Path("bench/results/paper_work"), help="resumable state")
    p.add_argument("--out", type=Path, default=Path("docs/results/paper.json"))
    p.add_argument("--shard", default="0/1", help="i/n: this process takes (task, seed) units i, i+n, ...")
    p.add_argument("--aggregate", action="store_true", help="only aggregate finished results")
    args = p.parse_args(argv)
    labels = [m.label for m in args.methods]
    if len(set(labels)) != len(labels) or "bc" not in labels:
        p.error(f"methods {labels}: each once, and bc (the baseline every difference is taken against)")
    return args


def say(text: str) -> None:
    print(text, flush=True)


# -- shared per-task pieces ----------------------------------------------------------------------------
@contextlib.contextmanager
def task_lock(args: argparse.Namespace, task: str):
    """Serialise the making of a task's shared pieces across shards (released when the process dies)."""
    path = args.work / task / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def dataset_for(args: argparse.Namespace, task: str, seed: int, n_expert: int, n_failure: int) -> Path:
    """Record once into a scratch folder, renamed into place when complete (a crash re-records)."""
    name = "held_out" if seed == HELD_OUT_SEED else f"seed{seed}"
    ds = args.work / task / name / "demos"
    if ds.is_dir():
        return ds
    scratch = ds.with_name("demos.recording")
    shutil.rmtree(scratch, ignore_errors=True)
    t = time.perf_counter()
    record_demos(
        scratch,
        task,
        n_expert=n_expert,
        n_failure=n_failure,
        seed=seed,
        image_size=args.image_size,
        progress=False,
    )
    seconds = {"record_s_per_demo": (time.perf_counter() - t) / max(n_expert + n_failure, 1)}
    (scratch / "record_time.json").write_text(json.dumps(seconds))
    scratch.rename(ds)
    return ds


def encoder_config(args: argparse.Namespace) -> KitchenEncoderConfig:
    return dataclasses.replace(
        KitchenEncoderConfig(),
        steps=args.encoder_steps,
        image_size=args.image_size,
        expert_videos=args.encoder_videos,
        play_videos=args.encoder_videos,
    )


def encoder_file(args: argparse.Namespace, task: str, name: str) -> tuple[Encoder, Path]:
    """The encoder ``name`` for ``task``: loaded, or made now (under the task lock)."""
    cache = args.work / "encoders"
    cfg = encoder_config(args)
    if name == "sim-pretrained":
        encoder, path, trained = kitchen_encoder(task, cache_dir=cache, config=cfg, progress=False)
        if trained:
            say(f"  trained the sim-pretrained encoder {path}")
        return encoder, path
    path = cache / f"{name}_{task if name == 'in-domain' else 'any'}.safetensors"
    if path.is_file():
        return load_encoder("vip", path), path
    if name == "in-domain":
        demos = dataset_for(args, task, 0, args.experts, args.failures)
        videos = [
            read_episode(s.path).on_grid(25.0).frames
            for s in list_episodes(demos)
            if s.usable and s.label == "success"
        ]
        say(f"  training the in-domain encoder on {len(videos)} successful seed-0 demos of {task}")
        return train_kitchen_encoder(videos, path, cfg, progress=False), path
    with warnings.catch_warnings():  # "random weights": intended here
        warnings.simplefilter("ignore")
        encoder = load_encoder(
            "vip", arch="convnet-small", hidden_dim=cfg.hidden_dim, random_init=True, seed=0
        )
    return load_encoder("vip", save_encoder(encoder, path)), path


def prepare_task(args: argparse.Namespace, task: str) -> dict[str, tuple[Encoder, Path]]:
    with task_lock(args, task):
        encoders = {name: encoder_file(args, task, name) for name in args.encoders}
        if args.reward_quality:
            path = args.work / task / "reward_quality.json"
            quality = json.loads(path.read_text()) if path.is_file() else {}
            missing = [name for name in encoders if name not in quality]
            if missing:
                held_out = dataset_for(args, task, HELD_OUT_SEED, args.held_out, args.held_out)
                quality |= {name: reward_quality(encoders[name][0], held_out) for name in missing}
                path.write_text(json.dumps(quality, indent=2))
    return encoders


# -- one (task, seed) unit -----------------------------------------------------------------------------
def ledger_complete(path: Path, trials: int) -> bool:
    return path.is_file() and Ledger.load(path).n >= trials


def find_ledger(unit: Path, label: str, trials: int) -> Path | None:
    """The complete ledger of ``label`` among the unit's paired sessions, if any."""
    return next(
        (p for p in sorted(unit.glob(f"evaluation-*/{label}/ledger.json")) if ledger_complete(p, trials)),
        None,
    )


def run_unit(
    args: argparse.Namespace, task: str, seed: int, encoders: dict[str, tuple[Encoder, Path]]
) -> None:
    root = args.work / task / f"seed{seed}"
    timing_path = root / "timing.json"
    dataset = dataset_for(args, task, seed, args.experts, args.failures)
    timing = json.loads(timing_path.read_text()) if timing_path.is_file() else {}
    for enc_name, (encoder, enc_path) in encoders.items():
        unit = root / enc_name
        cfg = WorkflowConfig(
            task=task,
            out_dir=unit,
            n_expert=args.experts,
            n_failure=args.failures,
            image_size=args.image_size,
            seed=seed,
            encoder_weights=enc_path,
            policy_steps=args.policy_steps,
            rollouts=args.rollouts,
            seeds=1,  # the unit's seed only; the bench's seeds are its units
            progress=False,
        )
        checkpoints = {}
        for m in args.methods:
            tcfg = dataclasses.replace(
                train_config(cfg, m.weighting.method, dataset, enc_path, seed),
                run_dir=str(unit / "policies" / m.label),
                weighting=m.weighting,
                cache_dir=str(args.work / "embedding_cache"),
            )
            summary = Path(tcfg.run_dir) / "summary.json"
            if summary.is_file() and json.loads(summary.read_text())["step"] >= tcfg.steps:
                checkpoints[m.label] = latest_checkpoint(Path(tcfg.run_dir))
                continue
            t = time.perf_counter()
            trained = train(tcfg, encoder=encoder, resume=True)
            if trained.stop_signal is not None:  # resumed by the next run, never evaluated half-trained
                raise Interrupted(trained.stop_signal)
            checkpoints[m.label] = trained.checkpoint
            fit_s = json.loads(summary.read_text())["wall_s_this_session"]
            timing[f"{enc_name}/train/{m.label}"] = {
                "total_s": time.perf_counter() - t,
                "fit_s": fit_s,
                "steps": tcfg.steps,
            }
        t = time.perf_counter()
        evaluated = evaluate_unit(args, cfg, unit, checkpoints, dataset)
        if evaluated:
            horizon = cfg.resolved_eval_horizon
            timing[f"{enc_name}/evaluate"] = {
                "s": time.perf_counter() - t,
                "policies": evaluated,
                "rollouts": args.rollouts,
                "horizon": horizon,
            }
        timing_path.write_text(json.dumps(timing, indent=2))
        rates = {m.label: ledger_rate(find_ledger(unit, m.label, args.rollouts)) for m in args.methods}
        say(f"  {task} seed {seed} {enc_name}: " + ", ".join(f"{k} {v}" for k, v in rates.items()))


def ledger_rate(path: Path | None) -> str:
    if path is None:
        return "-"
    led = Ledger.load(path)
    return f"{led.successes}/{led.n}"


def evaluate_unit(
    args, cfg: WorkflowConfig, unit: Path, checkpoints: dict[str, Path], dataset: Path
) -> int:
    """Evaluate the methods without a complete ledger in one paired session (finishing an interrupted
    one first); returns how many policies were evaluated now."""
    missing = [m.label for m in args.methods if find_ledger(unit, m.label, args.rollouts) is None]
    if not missing:
        return 0
    write_task_files(cfg, dataset, cfg.encoder_weights)  # what the evaluations read, as in the demo
    count = 0
    for session_dir in sorted(unit.glob("evaluation-*")):
        labels = [p["name"] for p in load_session(session_dir)["policies"]]
        if set(labels) <= set(checkpoints) and any(
            find_ledger(unit, lab, args.rollouts) is None for lab in labels
        ):
            count += run_session(cfg, session_dir, labels, checkpoints, resume=True)
    missing = [m.label for m in args.methods if find_ledger(unit, m.label, args.rollouts) is None]
    if missing:
        digest = hashlib.sha1("\n".join(missing).encode()).hexdigest()[:8]
        count += run_session(cfg, unit / f"evaluation-{digest}", missing, checkpoints)
    return count


def run_session(
    cfg: WorkflowConfig, session_dir: Path, labels: list[str], checkpoints: dict[str, Path],
    resume: bool = False,
) -> int:
    """One paired session of ``labels``, each arm built as `vipflow evaluate run` builds it from the
    unit's task file (the demo's evaluation options), all on one simulator."""
    arms: list = []
    for lab in labels:
        opts, flags = evaluation_options(cfg, checkpoints[lab], lab, cfg.seed, session_dir / lab)
        arms.append(build_session(opts, flags | {"progress": False}, resume=resume,
                                  backend=arms[0].backend if arms else None))
    session = PairedSession(arms, arms[0].operator, session_dir, order="random", resume=resume)
    session.run()
    if session.stop_signal is not None:  # resumed by the next run, never aggregated unfinished
        raise Interrupted(session.stop_signal)
    return len(labels)


# -- aggregate -----------------------------------------------------------------------------------------
def t_interval(x: list[float]) -> tuple[float | None, float | None]:
    """95 % Student-t interval of the mean; None with fewer than two values."""
    if len(x) < 2:
        return None, None
    m, se = float(np.mean(x)), float(stats.sem(x))
    half = float(stats.t.ppf(0.975, len(x) - 1)) * se if se > 0 else 0.0
    return m - half, m + half


def collect(args: argparse.Namespace) -> dict[tuple[str, str, str], dict[int, Ledger]]:
    """Complete ledgers by (task, encoder, method label) and seed."""
    out: dict[tuple[str, str, str], dict[int, Ledger]] = {}
    for path in sorted(args.work.glob("*/seed*/*/evaluation-*/*/ledger.json")):
        led = Ledger.load(path)
        if led.n < led.config.get("rollouts", 0):
            continue  # unfinished
        task, encoder, label = path.parts[-6], path.parts[-4], path.parts[-2]
        out.setdefault((task, encoder, label), {})[led.seed] = led
    return out


def pct(x: float | None) -> float | None:
    return None if x is None else 100.0 * x


def aggregate(args: argparse.Namespace, host: dict) -> tuple[dict, dict]:
    """(paper.json, details): rows per (task, encoder, method) and reward quality; see docs/simulation.md.
    ``host``: :func:`vipflow.benchmark.machine` at this process's start."""
    found = collect(args)
    rows, details = [], []
    for (task, encoder, label), by_seed in sorted(found.items()):
        seeds = sorted(by_seed)
        rates = [by_seed[s].success_rate for s in seeds]
        lo, hi = t_interval(rates)
        bc = found.get((task, encoder, "bc"), {})
        common = [s for s in seeds if s in bc]
        diffs = [by_seed[s].success_rate - bc[s].success_rate for s in common]
        dlo, dhi = t_interval(diffs)
        is_bc = label == "bc" or not common
        rows.append(
            {
                "task": task,
                "encoder": encoder,
                "method": label,
                "success_mean": pct(float(np.mean(rates))),
                "success_lo": pct(None if lo is None else max(0.0, lo)),
                "success_hi": pct(None if hi is None else min(1.0, hi)),
                "vs_bc_diff": None if is_bc else pct(float(np.mean(diffs))),
                "vs_bc_lo": None if is_bc or dlo is None else pct(max(-1.0, dlo)),
                "vs_bc_hi": None if is_bc or dhi is None else pct(min(1.0, dhi)),
                "seeds": len(seeds),
                "rollouts_per_seed": min(by_seed[s].n for s in seeds),
            }
        )
        succ, n = sum(by_seed[s].successes for s in seeds), sum(by_seed[s].n for s in seeds)
        mcnemar = None
        if common and label != "bc":
            mine = {k: v for s in common for k, v in by_seed[s].outcomes_by_start().items()}
            base = {k: v for s in common for k, v in bc[s].outcomes_by_start().items()}
            mcnemar = paired_difference(task, label, "bc", mine, base).to_json()
        details.append(
            {
                "task": task,
                "encoder": encoder,
                "method": label,
                "seeds": seeds,
                "per_seed_success": dict(zip(map(str, seeds), rates, strict=True)),
                "pooled": {"successes": succ, "n": n, "wilson95": list(wilson_interval(succ, n))},
                "vs_bc_per_seed": {} if label == "bc" else dict(zip(map(str, common), diffs, strict=True)),
                "vs_bc_mcnemar": mcnemar,
            }
        )
    quality = []
    for path in sorted(args.work.glob("*/reward_quality.json")):
        for encoder, q in json.loads(path.read_text()).items():
            quality.append(
                {
                    "task": path.parent.name,
                    "encoder": encoder,
                    "voc": q["voc"],
                    "bump_rate": q["bump_rate"],
                    "auroc": q["auroc_final_value"],
                }
            )
    paper = {"rows": rows, "reward_quality": quality}
    info = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "methods"}
        | {"methods": {m.label: dataclasses.asdict(m.weighting) for m in args.methods}},
        "machine": finished(host),
        "cells": details,
        "cost": cost_estimate(args),
    }
    return paper, info


def cost_estimate(args: argparse.Namespace) -> dict:
    """Per-stage times measured here and what one full run (4 tasks x 5 seeds x the default methods
    and encoders, 20,000 steps, 10 paired rollouts) costs on this CPU in one process."""
    record = [
        json.loads(p.read_text())["record_s_per_demo"] for p in args.work.glob("*/*/demos/record_time.json")
    ]
    train_fit: dict[str, list[float]] = {}
    train_rest: dict[str, list[float]] = {}
    tick = []
    for path in sorted(args.work.glob("*/seed*/timing.json")):
        for key, v in json.loads(path.read_text()).items():
            if "/train/" in key:
                method = key.rsplit("/", 1)[1].split("_")[0]
                train_fit.setdefault(method, []).append(v["fit_s"] / v["steps"])
                train_rest.setdefault(method, []).append(v["total_s"] - v["fit_s"])
            elif key.endswith("/evaluate"):
                tick.append(v["s"] / (v["policies"] * v["rollouts"] * v["horizon"]))
    if not record or not train_fit or not tick:
        return {}
    med = {m: (float(np.median(train_fit[m])), float(np.median(train_rest[m]))) for m in train_fit}
    # a method not measured yet: the same network's step time; the fixed part of BC/RWR (IQL's
    # includes fitting its critics), 0 if only IQL was measured
    any_fit = float(np.median([x for v in train_fit.values() for x in v]))
    plain_rest = [x for m, v in train_rest.items() if m != "iql" for x in v]
    methods = ["bc", "rwr", "iql"]
    assumed = [m for m in methods if m not in med]
    for m in assumed:
        med[m] = (any_fit, float(np.median(plain_rest)) if plain_rest and m != "iql" else 0.0)
    per_policy = {m: 20_000 * fit + rest for m, (fit, rest) in med.items()}
    horizons = {task: get_task(task).horizon + 50 for task in TASKS}
    units = [(task, seed) for task in TASKS for seed in range(5)]
    full = 0.0
    for task, _ in units:
        full += 20 * float(np.median(record))
        full += 2 * sum(per_policy[m] for m in methods)  # sim-pretrained + in-domain
        full += 2 * len(methods) * 10 * horizons[task] * float(np.median(tick))
    return {
        "measured": {
            "record_s_per_demo": float(np.median(record)),
            "train_s_per_1k_steps": {m: 1e3 * v[0] for m, v in med.items()},
            "train_fixed_s": {m: v[1] for m, v in med.items()},
            "evaluate_s_per_tick": float(np.median(tick)),
        },
        "per_policy_full_s": per_policy,
        "not_measured_assumed": assumed,
        "full_run": {
            "units": len(units),
            "methods": methods,
            "encoders": 2,
            "hours_one_process": full / 3600,
            "hours_two_shards_2_cores": full / 3600 / 2,
            "excludes": "training the in-domain encoders (4) and held-out reward quality",
        },
    }


# -- tables --------------------------------------------------------------------------------------------
def fmt(x: float | None, sign: bool = False) -> str:
    return (
        "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.0f}" if sign else f"{x:.0f}"
    )


def method_order(label: str) -> tuple:
    base = label.split("_")[0]
    return (PAPER_METHODS.index(base) if base in PAPER_METHODS else len(PAPER_METHODS), label)


def excludes_zero(row: dict) -> bool:
    """Whether a row's paired difference to BC has a 95 % interval that excludes 0."""
    lo, hi = row["vs_bc_lo"], row["vs_bc_hi"]
    return lo is not None and (lo > 0 or hi < 0)


def table_rows(paper: dict) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    """Header and rows of (text, bold) cells: one row per (task, encoder); bold: the paired
    difference's interval excludes 0."""
    labels = sorted({r["method"] for r in paper["rows"]}, key=method_order)
    others = [m for m in labels if m != "bc"]
    header = ["task", "encoder", *labels, *(f"{m} − bc" for m in others), "seeds × rollouts"]
    cells = {(r["task"], r["encoder"], r["method"]): r for r in paper["rows"]}
    body = []
    for task, encoder in sorted({(r["task"], r["encoder"]) for r in paper["rows"]}):
        row = [(task, False), (encoder, False)]
        for m in labels:
            r = cells.get((task, encoder, m))
            text = (
                "—"
                if r is None
                else f"{fmt(r['success_mean'])} [{fmt(r['success_lo'])}, {fmt(r['success_hi'])}]"
            )
            row.append((text, False))
        for m in others:
            r = cells.get((task, encoder, m))
            if r is None or r["vs_bc_diff"] is None:
                row.append(("—", False))
                continue
            lo, hi = r["vs_bc_lo"], r["vs_bc_hi"]
            text = f"{fmt(r['vs_bc_diff'], True)} [{fmt(lo, True)}, {fmt(hi, True)}]"
            row.append((text, excludes_zero(r)))
        first = next(r for r in paper["rows"] if (r["task"], r["encoder"]) == (task, encoder))
        row.append((f"{first['seeds']} × {first['rollouts_per_seed']}", False))
        body.append(row)
    return header, body


def markdown(paper: dict) -> str:
    header, body = table_rows(paper)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(f"**{t}**" if bold else t for t, bold in row) + " |" for row in body]
    lines += [
        "",
        "Success % as the mean over seeds with a 95 % t-interval over the per-seed rates (clipped to "
        "[0, 100]); *m − bc*: the mean per-seed difference to BC (same demos, same evaluation starts) "
        "with its 95 % t-interval (clipped to [-100, 100]), bold when it excludes 0. McNemar tests on "
        "the pooled pairs are in the details file.",
        "",
        "| task | encoder | VOC ↑ | bump rate ↓ | AUROC ↑ |",
        "|---|---|---|---|---|",
    ]
    for q in paper["reward_quality"]:
        au = "n/a" if q["auroc"] is None else f"{q['auroc']:.2f}"
        lines.append(f"| {q['task']} | {q['encoder']} | {q['voc']:.2f} | {q['bump_rate']:.2f} | {au} |")
    return "\n".join(lines)


def png(paper: dict, path: Path) -> None:
    """Two panels per encoder row: each method's success % with its interval over seeds, and each
    method's paired difference to BC with its interval (a zero line; filled: excludes 0)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not paper["rows"]:
        return
    labels = sorted({r["method"] for r in paper["rows"]}, key=method_order)
    encoders = sorted({r["encoder"] for r in paper["rows"]})
    tasks = sorted({r["task"] for r in paper["rows"]})
    cells = {(r["task"], r["encoder"], r["method"]): r for r in paper["rows"]}
    colors = dict(zip(labels, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    fig, axes = plt.subplots(len(encoders), 2, figsize=(11, 0.6 + 2.6 * len(encoders)), squeeze=False)
    step = 0.8 / len(labels)
    for row, encoder in zip(axes, encoders, strict=True):
        for k, method in enumerate(labels):
            y = [i + (k - (len(labels) - 1) / 2) * step for i in range(len(tasks))]
            found = [(yi, cells.get((t, encoder, method))) for yi, t in zip(y, tasks, strict=True)]
            found = [(yi, r) for yi, r in found if r is not None]
            for ax, key, lo, hi in ((row[0], "success_mean", "success_lo", "success_hi"),
                                    (row[1], "vs_bc_diff", "vs_bc_lo", "vs_bc_hi")):
                pts = [(yi, r) for yi, r in found if r[key] is not None]
                for yi, r in pts:
                    mid = r[key]
                    a, b = (mid, mid) if r[lo] is None else (r[lo], r[hi])
                    filled = ax is row[0] or excludes_zero(r)  # success always; a difference if it excludes 0
                    ax.errorbar(mid, yi, xerr=[[mid - a], [b - mid]], fmt="o", color=colors[method],
                                mfc=colors[method] if filled else "white", capsize=3)
                if pts:
                    ax.plot([], [], "o", color=colors[method], label=method)
        row[1].axvline(0, color="0.4", lw=0.8)
        for ax, title in ((row[0], "success %"), (row[1], "method − BC, paired by seed (points)")):
            ax.set_yticks(range(len(tasks)), tasks)
            ax.invert_yaxis()
            ax.set_title(f"{encoder}: {title}", fontsize=9)
            ax.grid(axis="x", alpha=0.3)
        row[0].set_xlim(-2, 102)
        row[1].set_xlim(-102, 102)
        row[0].legend(fontsize=8, loc="lower right")
    fig.suptitle("Mean over seeds with 95 % t-intervals; a filled difference excludes 0", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def write_outputs(args: argparse.Namespace, host: dict) -> str:
    paper, details = aggregate(args, host)
    write_report(args.out, paper)
    write_report(args.out.with_name(args.out.stem + "_details.json"), details)
    md = markdown(paper)
    args.out.with_suffix(".md").write_text(md + "\n")
    png(paper, args.out.with_suffix(".png"))
    return md


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    host = machine()
    torch.set_num_threads(1)  # rendering, encoding and training share the CPU; see WorkflowConfig
    if not args.aggregate:
        i, n = (int(x) for x in args.shard.split("/"))
        # seed-major: a run cut short has every task at the same number of seeds
        units = [(task, seed) for seed in args.seeds for task in args.tasks][i::n]
        prepared: dict[str, dict] = {}
        for task, seed in units:
            say(f"== {task} seed {seed}")
            if task not in prepared:
                prepared[task] = prepare_task(args, task)
            run_unit(args, task, seed, prepared[task])
    print(write_outputs(args, host))
    return 0


if __name__ == "__main__":
    run_script(main, "finished stages are kept in --work (demos, encoders, policy checkpoints, judged "
                     "ledgers); run the same command to continue")
