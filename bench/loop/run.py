"""25 Hz control-loop benchmark: decoupled perception vs. encoding on the command path.

All runs drive the same fake Franka (1 kHz state, reflexes armed) and fake 30 fps camera on the
monotonic clock, with the VIP ResNet-50 encoder (random weights: timing does not depend on the
values) and an untrained policy loaded through ``vipflow.policy.load_policy``:

* ``threaded`` (ours): camera read + encoder in the perception thread (1 torch thread), the loop
  thread sleeps to each deadline and uses the newest embedding;
* ``process`` (ours, the hardware default): the same, with the encoder in its own process;
* ``inline`` (baseline): the naive loop that waits for a frame and encodes it inside every tick.

Reported per run: command period p50/p95/p99/max, deadline misses (a command issued after its
40 ms slot ended), command latency, encoder latency, frame age at use (distribution + histogram),
stale-observation holds at the default freshness bound. The encoder runs with the product's
defaults (``--runtime auto --precision auto``: OpenVINO bf16 on a CPU with AMX-BF16).
Acceptance (process mode, the hardware default; threaded reported too): period p99 within 2 ms
of 40 ms, zero deadline misses, commands on 99 % of ticks, frame age p99 <= 60 ms. ``--live``
adds a process run with the Foxglove live server and a viewer process subscribed to every topic
(so every frame is JPEG-encoded and sent), publishing in alternate blocks of ``--live-block``
ticks: the ticks with and without publishing share one loop, encoder process and machine load,
so their period p99s compare fairly (required: within 1 ms, zero misses in both).

    .venv/bin/python bench/loop/run.py                 # full: 2000 ticks per mode (+250 baseline)
    .venv/bin/python bench/loop/run.py --ticks 250     # quick check on a busy machine
    .venv/bin/python bench/loop/run.py --live          # + process mode with --live and a viewer
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vipflow.benchmark import finished, machine, write_report
from vipflow.cli.options import add_options, from_args
from vipflow.encoder_inference import InferenceConfig
from vipflow.encoders import load_encoder
from vipflow.hardware import MonotonicClock
from vipflow.hardware.envelope import WATCHDOG_MAX_STALE_TICKS
from vipflow.hardware.fake import FakeCamera, FakeRobot
from vipflow.interrupt import run_script
from vipflow.policy.untrained import untrained_policy
from vipflow.runtime.limits import SafetyLimits, WatchdogLimits
from vipflow.runtime.loop import ControlLoop
from vipflow.runtime.perception import InlinePerception, ProcessPerception
from vipflow.runtime.safety import SafetyLayer


def encoder_factory(args):
    """Picklable recipe of the benchmark encoder (the product's runtime/precision defaults)."""
    inference = from_args(InferenceConfig, args)
    return functools.partial(load_encoder, "vip", arch=args.arch, random_init=True, runtime=inference.runtime,
                             precision=inference.precision)


class SweepingPolicy:
    """The untrained policy with its motion mirrored every ``period`` ticks.

    A random network pushes the arm the same way every tick, so over 2,000 ticks it would reach the
    workspace box and every later tick would hold: the command path (policy -> safety -> send)
    would go unmeasured. Mirroring keeps the arm sweeping inside the box for the whole run while
    the real network still runs on every tick.
    """

    def __init__(self, policy, period: int = 50):
        self.policy, self.period, self.calls = policy, period, 0
        self.config = policy.config

    def act(self, embedding, proprio, task=None):
        action = np.array(self.policy.act(embedding, proprio, task), dtype=np.float64)
        if (self.calls // self.period) % 2:
            action[:-1] *= -1.0  # motion mirrored; the gripper width is absolute, kept as is
        self.calls += 1
        return action


class LiveViewer:
    """``--live`` as the CLI runs it (LivePublisher fed from on_tick) plus a viewer process
    subscribed to every topic (so every frame is JPEG-encoded), like the Foxglove app."""

    def __init__(self) -> None:
        import multiprocessing

        from vipflow.live import LiveConfig, LivePublisher
        from vipflow.live.client import watch

        self.publisher = LivePublisher(LiveConfig(port=0), say=None)
        ctx = multiprocessing.get_context("spawn")
        self.ready, self.stop, self.received = ctx.Event(), ctx.Event(), ctx.Value("i", 0)
        args = (self.publisher.url, self.ready, self.stop, self.received)
        self.viewer = ctx.Process(target=watch, args=args, name="foxglove-viewer")
        self.viewer.start()
        if not self.ready.wait(120):
            raise RuntimeError("the viewer process did not subscribe")

        self.ticks: list[tuple[int, int, int]] = []  # (index, scheduled, commanded)
        self.block = 50

    def publishing(self, index: int) -> bool:
        return (index // self.block) % 2 == 1

    def on_tick(self, rec) -> None:
        from vipflow.live import TickView

        self.ticks.append((rec.index, rec.scheduled_ns, rec.commanded_ns))
        if self.publishing(rec.index):
            self.publisher.tick(TickView.from_record(rec, "ee_delta"))

    def split(self, period_ns: int = 40_000_000) -> dict:
        """Period percentiles and deadline misses of the ticks with and without publishing."""
        from vipflow.runtime.timing import summarize_ms

        out = {}
        for on in (True, False):
            pairs = zip(self.ticks, self.ticks[1:], strict=False)
            periods = [(c - c0) / 1e6 for (_, _, c0), (k, _, c) in pairs if self.publishing(k) == on]
            misses = sum(c > s + period_ns for k, s, c in self.ticks if self.publishing(k) == on)
            out["publishing" if on else "not_publishing"] = {
                "ticks": sum(self.publishing(k) == on for k, _, _ in self.ticks),
                "loop_period_ms": summarize_ms(periods), "deadline_misses": misses}
        return out

    def close(self) -> dict:
        self.publisher.flush()
        time.sleep(0.5)
        self.stop.set()
        self.viewer.join(30)
        self.publisher.close()
        return {"published": self.publisher.published, "dropped": self.publisher.dropped,
                "received_by_viewer": self.received.value, "block_ticks": self.block, **self.split()}


def run_mode(mode: str, ticks: int, encoder, policy, args) -> dict:
    live = LiveViewer() if mode.endswith("+live") else None
    if live:
        live.block = args.live_block
    policy = SweepingPolicy(policy)
    clock = MonotonicClock()
    camera = FakeCamera(clock, fps=args.camera_fps, latency_s=0.015, height=args.height, width=args.width)
    robot = FakeRobot(clock)
    # The default freshness bounds (stale frames hold and are counted); the longest stale run the
    # envelope allows (a watchdog cannot be switched off), so the benchmark measures timing and the
    # watchdog's stop is tested elsewhere.
    limits = SafetyLimits(watchdog=dataclasses.replace(
        WatchdogLimits(), stale_ticks=min(ticks + 1, WATCHDOG_MAX_STALE_TICKS)))
    safety = SafetyLayer(limits, action_space="ee_delta")
    if mode == "threaded":
        perception = "thread"
    elif mode.startswith("process"):
        perception = ProcessPerception(camera, encoder_factory(args), clock, torch_threads=args.torch_threads)
    else:
        perception = InlinePerception(camera, encoder, clock, read_timeout_s=0.5)
    loop = ControlLoop(camera, robot, encoder, policy, safety, clock, 25.0, perception=perception,
                       torch_threads=args.torch_threads, realtime_priority=args.rt_priority or None,
                       on_tick=live.on_tick if live else None)
    camera.start()
    robot.start()
    t0 = time.perf_counter()
    result = loop.run(ticks, warmup_timeout_s=30.0)
    wall = time.perf_counter() - t0
    if mode.startswith("process"):
        perception.close()
    robot.stop()
    camera.stop()
    report = result.timing.report()
    return {
        **({"live": live.close()} if live else {}),
        "mode": mode,
        "stop_reason": result.stop_reason,
        "wall_s": round(wall, 2),
        "commands_sent": len(robot.commands),
        "holds": result.holds,
        "realtime_priority": args.rt_priority if loop.realtime else None,
        **report,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ticks", type=int, default=2000, help="ticks of the threaded (ours) run")
    p.add_argument("--baseline-ticks", type=int, default=250, help="ticks of the inline baseline run")
    p.add_argument("--arch", default="resnet50", help="VIP encoder arch (resnet50 as in the paper)")
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--camera-fps", type=float, default=30.0)
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--rt-priority", type=int, default=80, help="loop thread SCHED_FIFO priority (0: off)")
    add_options(p, InferenceConfig)
    p.add_argument("--live", action="store_true", help="also run process mode with the live view on")
    p.add_argument("--live-block", type=int, default=50, help="--live: ticks per publishing / quiet block")
    p.add_argument("--out", type=Path, default=Path("bench/results/loop.json"))
    args = p.parse_args(argv)
    host = machine()

    torch.set_num_threads(args.torch_threads)
    encoder = encoder_factory(args)()
    with tempfile.TemporaryDirectory() as tmp:
        policy = untrained_policy(encoder, Path(tmp) / "policy")
        encoder.embed_images(np.zeros((2, args.height, args.width, 3), np.uint8), batch_size=1)  # warm up
        modes = ["threaded", "process", *(["process+live"] if args.live else []), "inline"]
        runs = {m: run_mode(m, args.baseline_ticks if m == "inline" else args.ticks, encoder, policy, args)
                for m in modes}

    def accept(run: dict) -> dict:
        p99, age_p99 = run["loop_period_ms"]["p99"], run["frame_age_ms"]["p99"]
        return {
            "period_p99_within_2ms_of_40ms": p99 is not None and abs(p99 - 40.0) <= 2.0,
            "zero_deadline_misses": run["deadline_misses"] == 0,
            "frame_age_p99_le_60ms": age_p99 is not None and age_p99 <= 60.0,
            # Holds skip the policy -> safety -> send path; the run must exercise that path.
            "commands_on_99pct_of_ticks": run["commands_sent"] >= 0.99 * run["ticks"],
        }

    acceptance = accept(runs["process"])  # the hardware default; threaded reported alongside
    acceptance_threaded = accept(runs["threaded"])
    if args.live:
        on, off = runs["process+live"]["live"]["publishing"], runs["process+live"]["live"]["not_publishing"]
        acceptance["live_period_p99_within_1ms_of_without"] = (
            abs(on["loop_period_ms"]["p99"] - off["loop_period_ms"]["p99"]) <= 1.0)
        acceptance["live_zero_deadline_misses"] = on["deadline_misses"] == 0 and off["deadline_misses"] == 0
    out = {
        "benchmark": "loop",
        "encoder": {"name": encoder.name, "arch": encoder.arch, "weights": "random",
                    "embed_dim": encoder.embed_dim, "inference": encoder.inference_tag},
        "max_observation_age_ms": WatchdogLimits().max_observation_age_s * 1e3,
        "camera": {"height": args.height, "width": args.width, "fps": args.camera_fps},
        "torch_threads": args.torch_threads,
        "machine": finished(host),
        "ours_threaded": runs["threaded"],
        "ours_process": runs["process"],
        "baseline_inline": runs["inline"],
        **({"ours_process_live": runs["process+live"]} if args.live else {}),
        "acceptance": acceptance,
        "acceptance_threaded": acceptance_threaded,
    }
    write_report(args.out, out)
    for run in runs.values():
        lp, fa, enc = run["loop_period_ms"], run["frame_age_ms"], run["encoder_latency_ms"]
        print(
            f"{run['mode']:>8}: {run['ticks']} ticks, period p50/p99/max "
            f"{lp['p50']}/{lp['p99']}/{lp['max']} ms, "
            f"misses {run['deadline_misses']}, encoder p50 {enc['p50']} ms, frame age p50/p99 "
            f"{fa['p50']}/{fa['p99']} ms, holds {run['holds']}"
            + (f", live {run['live']}" if "live" in run else "")
        )
    print(f"acceptance (process): {acceptance}; threaded: {acceptance_threaded}")
    return 0 if all(acceptance.values()) else 1


if __name__ == "__main__":
    run_script(main, "no report written (the JSON is written only when the run finished)")
