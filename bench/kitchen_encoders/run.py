"""Held-out reward quality of the shipped kitchen encoders, against a random network and an
in-domain encoder trained at the same budget.

Per benchmark task (the held-out one of its shipped encoder):

- held-out demos: 10 expert + 10 failed, ``record_demos(seed=10000)`` (the starts bench/paper
  scores reward quality on; no encoder trains on them);
- ``sim-pretrained``: the shipped ``kitchen_vip_no_<task>.safetensors`` (broad pretraining on
  the other six FrankaKitchen tasks, ``python -m vipflow.sim.encoder --all``);
- ``random-init``: the same network (convnet-small, 128-D head, same input size), seeded
  random weights;
- ``--compare NAME=DIR``: other encoder files of the same names (e.g. the ones shipped before);
- ``in-domain``: the same training recipe (``KitchenEncoderConfig``: steps, batch, lr, image
  size, bf16) on the task's own 10 expert demos (``record_demos(seed=0)``, bench/paper's
  in-domain data): what 10 demos of the task itself buy at the same budget.

Reported: VOC and bump rate of the successful held-out demos, each against its own final frame
(as VIP evaluates), and the AUROC of the final value, success vs failure. The recipe was tuned
on held-out demos from ``record_demos(seed=20000)``; this reports seed 10000, which tuning
never saw.

    .venv/bin/python bench/kitchen_encoders/run.py        # ~15 min record + 4 in-domain trainings
    .venv/bin/python bench/kitchen_encoders/run.py --tasks light_switch --in-domain-steps 50
    .venv/bin/python bench/kitchen_encoders/run.py --in-domain-steps 0 --compare previous=OLD_DIR
    .venv/bin/python bench/kitchen_encoders/run.py --in-domain-tasks hinge_cabinet  # one in-domain

Writes docs/results/kitchen_encoders.json (see --out); finished pieces are kept under --work.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from vipflow.sim import configure_gl

configure_gl()

from vipflow.benchmark import finished, machine, write_report  # noqa: E402
from vipflow.demo_config import KitchenEncoderConfig  # noqa: E402
from vipflow.encoders import load_encoder  # noqa: E402
from vipflow.episodes import list_episodes  # noqa: E402
from vipflow.sim.demos import record_demos  # noqa: E402
from vipflow.sim.encoder import asset_name, shipped_encoder_path, train_kitchen_encoder  # noqa: E402
from vipflow.sim.tasks import TASKS  # noqa: E402
from vipflow.sim.workflow import reward_quality  # noqa: E402

HELD_OUT_SEED = 10_000
TUNING_SEED = 20_000
IN_DOMAIN_SEED = 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=sorted(TASKS), choices=sorted(TASKS))
    p.add_argument("--held-out", type=int, default=10, help="held-out expert (and as many failed) demos")
    p.add_argument("--in-domain-demos", type=int, default=10)
    p.add_argument("--in-domain-steps", type=int, default=KitchenEncoderConfig().steps,
                   help="in-domain training steps (default: the shipped encoders' budget; 0: no in-domain)")
    p.add_argument("--in-domain-tasks", nargs="+", default=None, choices=sorted(TASKS),
                   help="score (and train) the in-domain encoder only for these tasks (default: all)")
    p.add_argument("--compare", action="append", default=[], metavar="NAME=DIR",
                   help="also score DIR/kitchen_vip_no_<task>.safetensors as NAME (e.g. earlier encoders)")
    p.add_argument("--work", type=Path, default=Path("bench/results/kitchen_encoders_work"))
    p.add_argument("--out", type=Path, default=Path("docs/results/kitchen_encoders.json"))
    return p.parse_args(argv)


def dataset(root: Path, seed: int, task: str, n_expert: int, n_failure: int, size: int) -> Path:
    """Record once; reuse a complete dataset from an earlier run."""
    ds = root / task / f"seed{seed}"
    if ds.is_dir() and len([s for s in list_episodes(ds) if s.usable]) == n_expert + n_failure:
        return ds
    if ds.is_dir():
        raise SystemExit(f"{ds} is incomplete; delete it to re-record")
    record_demos(ds, task, n_expert=n_expert, n_failure=n_failure, seed=seed, image_size=size, progress=False)
    return ds


def run_task(task: str, args: argparse.Namespace) -> dict:
    cfg = dataclasses.replace(KitchenEncoderConfig(), steps=args.in_domain_steps)
    held_out = dataset(args.work, HELD_OUT_SEED, task, args.held_out, args.held_out, cfg.image_size)
    shipped = load_encoder("vip", shipped_encoder_path(task))
    random = load_encoder("vip", arch=shipped.arch, hidden_dim=shipped.head_dim, random_init=True,
                          seed=cfg.seed, preprocess=shipped.preprocess)
    result = {
        "sim-pretrained": reward_quality(shipped, held_out),
        "random-init": reward_quality(random, held_out),
    }
    for name, folder in compared(args):
        result[name] = reward_quality(load_encoder("vip", folder / asset_name(task)), held_out)
    if cfg.steps > 0 and (args.in_domain_tasks is None or task in args.in_domain_tasks):
        result["in-domain"] = in_domain_quality(task, cfg, held_out, args)
    return result


def in_domain_quality(task: str, cfg: KitchenEncoderConfig, held_out: Path, args: argparse.Namespace) -> dict:
    """The same recipe on the task's own demos (trained once, kept under --work)."""
    own_path = args.work / task / f"in_domain_{cfg.steps}.safetensors"
    seconds = None
    if own_path.is_file():
        own = load_encoder("vip", own_path)
    else:
        demos = dataset(args.work, IN_DOMAIN_SEED, task, args.in_domain_demos, 0, cfg.image_size)
        t = time.perf_counter()
        own = train_kitchen_encoder([demos], own_path, cfg, progress=False)
        seconds = time.perf_counter() - t
    return reward_quality(own, held_out) | {"train_seconds": seconds, "steps": cfg.steps}


def compared(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """The ``--compare NAME=DIR`` encoder sets."""
    pairs = []
    for spec in args.compare:
        name, _, folder = spec.partition("=")
        if not (name and folder):
            raise SystemExit(f"--compare {spec!r}: give NAME=DIR")
        pairs.append((name, Path(folder)))
    return pairs


def markdown(result: dict) -> str:
    seen = [n for r in result["tasks"].values() for n in r]
    names = [n for n in ("sim-pretrained", "random-init", "in-domain") if n in seen]
    names += [n for n in dict.fromkeys(seen) if n not in names]
    heads = " / ".join(names)
    lines = [
        f"| held-out task | VOC ↑ {heads} | bump rate ↓ {heads} | AUROC ↑ {heads} |",
        "|---|---|---|---|",
    ]
    for task, r in result["tasks"].items():
        keys = ("voc", "bump_rate", "auroc_final_value")
        cells = [" / ".join(f"{r[n][key]:.2f}" if n in r else "–" for n in names) for key in keys]
        lines.append(f"| {task} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    host = machine()
    t0 = time.perf_counter()
    tasks = {}
    for task in args.tasks:
        t = time.perf_counter()
        tasks[task] = run_task(task, args)
        print(f"{task}: {json.dumps(tasks[task])} ({time.perf_counter() - t:.0f} s)", flush=True)
    result = {
        "benchmark": "kitchen_encoders",
        "config": {
            "held_out_seed": HELD_OUT_SEED, "tuning_seed": TUNING_SEED, "in_domain_seed": IN_DOMAIN_SEED,
            "held_out_demos": args.held_out, "in_domain_demos": args.in_domain_demos,
            "encoder": dataclasses.asdict(KitchenEncoderConfig()),
        },
        "machine": finished(host),
        "seconds": time.perf_counter() - t0,
        "tasks": tasks,
    }
    write_report(args.out, result)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
