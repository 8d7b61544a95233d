"""Open-loop replay of recorded demos: do a demo's own actions repeat it?

For each task and demo seed: record the expert demos as episodes (``record_demos``, the same
starts as bench/paper), read each successful one back on the 25 Hz grid, derive its actions
with ``GridEpisode.actions_for`` (kinesthetic style: from the recorded states only) and send
them open loop, through ``target_from_action``, from the same reset. Four variants separate
the two causes of the door-task failures (docs/simulation.md, "Actions under contact"):

- ``before``: gripper label = the next measured width, targets tracked by the servo law alone
  (the definition and controller before issue 14);
- ``gripper``: grasp-aware gripper labels (``vipflow.actions.gripper_commands``) only;
- ``lead``: the robot controller's tracking lead (``vipflow.sim.control.TrackingLead``) only;
- ``fixed``: both, what vipflow ships.

Evidence reported per task: success per variant; the replay's tracking gain (realised step /
labelled step, median) on ticks where the demo moved the task's object (contact) and on the
others (free); and what the scripted hand commanded (it is the recorder's only command
source): its target's lead over the reached pose versus the state-derived step, and the finger
command versus the measured width while the fingers hold the handle.

    .venv/bin/python bench/replay/run.py                        # 4 tasks x seeds 0-4 x 10 demos
    .venv/bin/python bench/replay/run.py --tasks microwave --seeds 0 --demos 3   # quick

Tuning (the tracking lead's gain and bounds, the gripper thresholds) used demo seeds 11 and 12;
the report uses seeds 0-4, which tuning never saw.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vipflow.sim import configure_gl

configure_gl()

from vipflow.actions import target_from_action  # noqa: E402
from vipflow.benchmark import finished, machine, write_report  # noqa: E402
from vipflow.episodes import list_episodes, read_episode  # noqa: E402
from vipflow.sim.demos import demo_styles, record_demos  # noqa: E402
from vipflow.sim.experts import make_expert  # noqa: E402
from vipflow.sim.kitchen import KitchenSim  # noqa: E402
from vipflow.sim.tasks import TASKS  # noqa: E402

VARIANTS = ("before", "gripper", "lead", "fixed")
MOVING = 1e-3  # task-object joint motion per tick (rad or m) that counts as "the hand moves it"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=sorted(TASKS), choices=sorted(TASKS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--demos", type=int, default=10, help="expert demos per seed")
    p.add_argument("--out", type=Path, default=Path("docs/results/replay.json"))
    return p.parse_args(argv)


def replay(sim: KitchenSim, seed: int, actions: np.ndarray, lead: bool) -> tuple[bool, np.ndarray]:
    """Send ``actions`` open loop from reset ``seed``; the robot's controller (``Robot.send``)
    has the tracking lead, the bare servo law (``KitchenSim.step``) has not."""
    sim.reset(seed)
    robot = sim.robot()
    robot.start()
    poses = [sim.state().ee_pose[:3]]
    for a in actions:
        target = target_from_action("ee_delta", sim.state(), a)
        robot.send(target) if lead else sim.step(target)
        poses.append(sim.state().ee_pose[:3])
    return sim.success(), np.array(poses)


def gains(labels: np.ndarray, poses: np.ndarray, mask: np.ndarray) -> float | None:
    """Median realised/asked ratio of the replay's steps along the labelled ones (>= 2 mm)."""
    asked = labels[:, :3]
    done = np.diff(poses, axis=0)
    norm2 = np.einsum("ij,ij->i", asked, asked)
    keep = mask & (norm2 > 0.002**2)
    if not keep.any():
        return None
    return float(np.median(np.einsum("ij,ij->i", done, asked)[keep] / norm2[keep]))


def rerun_hand(sim: KitchenSim, seed: int, spec) -> tuple[np.ndarray, dict]:
    """Re-run the scripted hand without rendering (deterministic: it is the recorded demo) for
    the task object's joints over the demo and what the hand commanded."""
    sim.reset(seed)
    expert = make_expert(sim.task.name, spec.style, horizon=sim.task.horizon, seed=seed)
    objects = [sim.data.qpos[sim.task.qpos_indices].copy()]
    lead, step, held, width_cmd = [], [], [], []
    for _ in range(sim.task.horizon):
        before = sim.state()
        target = expert(sim)
        sim.step(target)
        after = sim.state()
        objects.append(sim.data.qpos[sim.task.qpos_indices].copy())
        lead.append(np.linalg.norm(target.ee_pose[:3] - after.ee_pose[:3]))
        step.append(np.linalg.norm(after.ee_pose[:3] - before.ee_pose[:3]))
        if target.gripper_width < after.gripper_width - 0.005:  # fingers stopped short of the command
            held.append(after.gripper_width)
            width_cmd.append(target.gripper_width)
    return np.array(objects), {
        "target_lead_mm": 1000 * float(np.mean(lead)),
        "state_step_mm": 1000 * float(np.mean(step)),
        "held_width_mm": 1000 * float(np.mean(held)) if held else None,
        "finger_command_mm": 1000 * float(np.mean(width_cmd)) if width_cmd else None,
    }


def run_task(task: str, args: argparse.Namespace, scratch: Path) -> dict:
    sim = KitchenSim(task, seed=0, image_size=16)
    counts = dict.fromkeys(VARIANTS, 0)
    contact_gain = {v: [] for v in VARIANTS}
    free_gain = {v: [] for v in VARIANTS}
    hands, n_demos, failed = [], 0, {v: [] for v in VARIANTS}
    specs_by_seed: dict = {}
    try:
        for seed in args.seeds:
            ds = scratch / task / f"seed{seed}"
            record_demos(ds, task, n_expert=args.demos, n_failure=0, seed=seed, progress=False, sim=sim)
            specs_by_seed.update({s.seed: s for s in demo_styles(args.demos, 0, seed)})
            for summary in list_episodes(ds):
                if summary.label != "success":
                    continue
                episode = read_episode(summary.path)
                reset_seed = int(re.search(r"reset seed (\d+)", episode.meta.notes).group(1))
                grid = episode.on_grid(25.0, frames=False)
                fixed = grid.actions_for("ee_delta")
                old = fixed.copy()
                old[:, -1] = grid.gripper[1:]  # the label before: the next measured width
                objects, hand = rerun_hand(sim, reset_seed, specs_by_seed[reset_seed])
                hands.append(hand)
                moving = np.abs(np.diff(objects, axis=0)).max(axis=1) > MOVING
                n_demos += 1
                for variant in VARIANTS:
                    labels = fixed if variant in ("gripper", "fixed") else old
                    ok, poses = replay(sim, reset_seed, labels, lead=variant in ("lead", "fixed"))
                    counts[variant] += ok
                    if not ok:
                        failed[variant].append(reset_seed)
                    for store, mask in ((contact_gain, moving), (free_gain, ~moving)):
                        g = gains(labels, poses, mask)
                        if g is not None:
                            store[variant].append(g)
    finally:
        sim.close()
    mean = lambda xs: float(np.mean(xs)) if xs else None  # noqa: E731
    return {
        "demos": n_demos,
        "replay_success": counts,
        "failed_reset_seeds": failed,
        "median_tracking_gain_contact": {v: mean(contact_gain[v]) for v in VARIANTS},
        "median_tracking_gain_free": {v: mean(free_gain[v]) for v in VARIANTS},
        "hand": {k: mean([h[k] for h in hands if h[k] is not None]) for k in hands[0]} if hands else {},
    }


def markdown(result: dict) -> str:
    lines = [
        "| task | demos | before | gripper labels only | tracking lead only | both (shipped) | "
        "gain under contact before → shipped | gain in free space before → shipped |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task, r in result["tasks"].items():
        c, n = r["replay_success"], r["demos"]
        gc, gf = r["median_tracking_gain_contact"], r["median_tracking_gain_free"]
        fmt = lambda g: "–" if g is None else f"{g:.2f}"  # noqa: E731
        lines.append(
            f"| {task} | {n} | {c['before']}/{n} | {c['gripper']}/{n} | {c['lead']}/{n} | {c['fixed']}/{n} | "
            f"{fmt(gc['before'])} → {fmt(gc['fixed'])} | {fmt(gf['before'])} → {fmt(gf['fixed'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    host = machine()
    t0 = time.perf_counter()
    tasks = {}
    with tempfile.TemporaryDirectory(prefix="replay_") as scratch:
        for task in args.tasks:
            t = time.perf_counter()
            tasks[task] = run_task(task, args, Path(scratch))
            print(f"{task}: {tasks[task]['replay_success']} of {tasks[task]['demos']} "
                  f"({time.perf_counter() - t:.0f} s)", flush=True)
    result = {
        "benchmark": "replay",
        "config": {"tasks": args.tasks, "seeds": args.seeds, "demos_per_seed": args.demos,
                   "tuning_seeds": [11, 12]},
        "machine": finished(host),
        "seconds": time.perf_counter() - t0,
        "tasks": tasks,
    }
    write_report(args.out, result)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
