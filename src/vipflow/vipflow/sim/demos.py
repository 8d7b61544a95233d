"""Simulated kinesthetic demonstrations, written as real episodes.

The VIP paper's real-robot protocol records 20 demos per task, and for CloseDrawer 10 expert
demos plus 20 failures: reward-weighted regression only has something to down-weight when the
data holds bad behaviour. ``demo_styles`` draws that mix (expert demos with hand jitter and
speed variation, failures cycling through the failure modes), and ``record_demos`` records each
one through ``EpisodeWriter``, in simulated time, labelled by the simulator's own success test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vipflow.episodes import EpisodeMeta, EpisodeWriter, write_manifest
from vipflow.episodes.layout import next_episode_index
from vipflow.live.publisher import LivePublisher
from vipflow.progress import progress_bar
from vipflow.sim.experts import FAILURE_MODES, ExpertStyle, make_expert
from vipflow.sim.kitchen import CONTROL_RATE_HZ, KitchenSim


@dataclass(frozen=True)
class DemoSpec:
    """One demonstration to record: who demonstrates (style) and from which start (seed)."""

    style: ExpertStyle
    seed: int

    @property
    def kind(self) -> str:
        return "expert" if self.style.failure is None else f"failure:{self.style.failure}"


def demo_styles(n_expert: int, n_failure: int, seed: int = 0) -> list[DemoSpec]:
    """Expert demos (jitter 0–4 mm, speed ×0.8–1.2) then failures cycling through the modes."""
    rng = np.random.default_rng(seed)
    specs = []
    for i in range(n_expert + n_failure):
        noise = float(rng.uniform(0.0, 0.004))
        speed = float(rng.uniform(0.8, 1.2))
        if i < n_expert:
            style = ExpertStyle(target_noise=noise, speed=speed)
        else:
            mode = FAILURE_MODES[(i - n_expert) % len(FAILURE_MODES)]
            style = ExpertStyle(
                target_noise=noise,
                speed=speed,
                failure=mode,
                failure_at=float(rng.uniform(0.05, 0.2)),
                miss_offset=float(rng.uniform(0.12, 0.16)),
            )
        specs.append(DemoSpec(style=style, seed=int(seed * 100_000 + i)))
    return specs


def run_expert(sim: KitchenSim, spec: DemoSpec, horizon: int) -> Iterator[tuple]:
    """Reset, then yield (frame, state) at every tick 0..horizon while the demonstrator moves.

    The last tick is observed but not acted on, so an episode has ``horizon + 1`` samples and
    ``horizon`` actions on the 25 Hz grid.
    """
    sim.reset(spec.seed)
    camera, robot = sim.camera(), sim.robot()
    camera.start()
    robot.start()
    expert = make_expert(sim.task.name, spec.style, horizon=horizon, seed=spec.seed)
    sim.set_driver(expert)
    try:
        for t in range(horizon + 1):
            yield camera.read(timeout_s=0.0), robot.state()
            if t < horizon:
                sim.step()  # no command: the hand (driver) moves the arm
    finally:
        sim.set_driver(None)
        camera.stop()


def episode_meta(sim: KitchenSim, spec: DemoSpec, *, operator: str, tags: tuple[str, ...]) -> EpisodeMeta:
    return EpisodeMeta(
        task=sim.task.name,
        goal_text=sim.task.goal_text,
        operator=operator,
        tags=[*tags, spec.kind],
        nominal_rate_hz=CONTROL_RATE_HZ,
        source="sim",
        camera={
            "width": sim.image_size,
            "height": sim.image_size,
            "model": "MuJoCo free camera (FrankaKitchen-v1)",
        },
        robot={
            "model": "Franka Panda (FrankaKitchen-v1)",
            "frame": "kitchen world",
            "ee_site": "end_effector",
        },
        notes=f"reset seed {spec.seed}; style {spec.style}",
    )


def record_demo(
    sim: KitchenSim,
    path: Path,
    spec: DemoSpec,
    horizon: int,
    *,
    operator: str = "scripted-expert",
    tags: tuple[str, ...] = (),
    image_format: str = "raw",
    live: LivePublisher | None = None,
) -> tuple[Path, bool]:
    """Record one demonstration to ``path`` (a new episode directory); returns (path, success)."""
    meta = episode_meta(sim, spec, operator=operator, tags=tags)
    if live is not None:
        live.sync_clock(sim.now_ns())
        live.event("episode_start", path.name, detail=spec.kind)
    # Bag stamps = simulated time + this offset, so `ros2 bag info` shows the recording's date.
    writer = EpisodeWriter(path, meta, image_format, time_offset_ns=time.time_ns() - sim.now_ns())
    with writer:
        for frame, state in run_expert(sim, spec, horizon):
            writer.write_frame(frame)
            writer.write_state(state)
            if live is not None:
                live.frame(frame)
                live.state(state)
        success = sim.success()
        writer.close("success" if success else "failure")
    if live is not None:
        live.event("episode_end", path.name, label="success" if success else "failure", detail=spec.kind)
    return path, success


def record_demos(
    dataset: str | Path,
    task: str,
    *,
    n_expert: int = 10,
    n_failure: int = 20,
    seed: int = 0,
    image_size: int = 224,
    horizon: int | None = None,
    image_format: str = "raw",
    progress: bool = True,
    sim: KitchenSim | None = None,
    live: LivePublisher | None = None,
) -> list[tuple[Path, bool, str]]:
    """Record ``n_expert`` + ``n_failure`` demos into ``dataset`` (numbering after what is there).

    Returns (episode path, success, kind) per demo and rewrites the dataset manifest.
    """
    root = Path(dataset)
    root.mkdir(parents=True, exist_ok=True)
    own = sim is None
    sim = sim or KitchenSim(task, seed=seed, image_size=image_size)
    horizon = horizon or sim.task.horizon
    start = next_episode_index(root)
    results = []
    try:
        specs = demo_styles(n_expert, n_failure, seed)
        bar = progress_bar(f"recording {sim.task.name} demos", len(specs), enabled=progress, unit="demo")
        for i, spec in enumerate(specs):
            path, ok = record_demo(
                sim, root / f"episode_{start + i:04d}", spec, horizon, image_format=image_format, live=live
            )
            results.append((path, ok, spec.kind))
            bar.set_postfix_str(f"{spec.kind}: {'success' if ok else 'failure'}")
            bar.update(1)
        bar.close()
    finally:
        if own:
            sim.close()
    write_manifest(root)
    return results
