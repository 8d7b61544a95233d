"""Recorder throughput: 640x480 rgb8 at 30 Hz plus 1 kHz robot state, sustained, with zero drops.

Three phases in one run, each ``--seconds`` long, all on the same simulated hardware in real
time: ``vipflow.hardware.fake.FakeCamera`` (640x480 at 30 fps; a late reader gets the newest frame, the
others are lost, as with a RealSense) and a 1 kHz robot-state stream that buffers like a
subscription (``ReplayRobot.drain_states`` over a synthetic 1 kHz trajectory):

1. ``sources``: the recorder session idles (threads acquire, nothing is written): the cost of
   producing and reading the data, to subtract from the others.
2. ``recorder``: the real ``RecorderSession`` records one episode (camera and state threads,
   bounded queue, writer thread, ``EpisodeWriter``).
3. ``naive``: the baseline, a synchronous single-thread loop that takes the buffered states and
   the due camera frame and writes each inline with the same ``EpisodeWriter``.

Reported per phase: samples written vs expected, queue drops (writer fell behind), source gaps
(missed 1 ms state ticks / camera frames, from the recorded stamps), max gap, CPU share
(process CPU seconds / wall seconds; 1.0 = one core) and bytes/s on disk.

    .venv/bin/python bench/record/run.py                # full: 60 s per phase (~3.5 min)
    .venv/bin/python bench/record/run.py --seconds 10   # quick check
    .venv/bin/python bench/record/run.py --disk-stall-ms 300   # a write blocks 300 ms every second

``--disk-stall-ms`` makes one bag write per second block that long (a slow USB disk, page-cache
writeback throttling): the recorder's queue absorbs it, the synchronous baseline cannot.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from vipflow.benchmark import finished, machine, write_report
from vipflow.episodes import EpisodeMeta, EpisodeWriter, read_episode
from vipflow.hardware.fake import FakeCamera
from vipflow.hardware.franka import HOME_Q, forward_kinematics
from vipflow.hardware.replay import ReplayRobot, ReplayTimeline
from vipflow.interrupt import Interrupted, run_script
from vipflow.record.keys import ScriptedKeys
from vipflow.record.session import RecorderSession, SessionConfig

W, H, FPS, STATE_HZ = 640, 480, 30, 1000


def sources(seconds: float) -> tuple[FakeCamera, ReplayRobot]:
    """The camera and a buffered 1 kHz robot (a slow sinusoid in joint 1) for one phase."""
    n = int((seconds + 40) * STATE_HZ)
    t = np.arange(n, dtype=np.int64) * (1_000_000_000 // STATE_HZ)
    q = np.tile(HOME_Q, (n, 1))
    q[:, 0] += 0.2 * np.sin(t / 1e9)
    pose = np.tile(forward_kinematics(HOME_Q), (n, 1))
    robot = ReplayRobot(t, q, np.zeros_like(q), pose, np.full(n, 0.04), ReplayTimeline(0))
    return FakeCamera(fps=FPS, width=W, height=H, latency_s=0.01), robot


def install_disk_stalls(stall_ms: float) -> None:
    """Make the first bag write after each full second block for ``stall_ms`` (both phases)."""
    from rosbags.rosbag2 import Writer

    real_write, state = Writer.write, {"next": time.monotonic() + 1.0}

    def write(self, connection, timestamp, data):
        if time.monotonic() >= state["next"]:
            state["next"] = time.monotonic() + 1.0
            time.sleep(stall_ms / 1000)
        return real_write(self, connection, timestamp, data)

    Writer.write = write


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def stream_stats(path: Path, seconds: float) -> dict:
    ep = read_episode(path)
    stamps = ep.stamps()
    cam, st = stamps.get("camera", np.zeros(0)), stamps.get("joint_states", np.zeros(0))

    def gaps(t: np.ndarray, period_ns: float) -> tuple[int, float]:
        if len(t) < 2:
            return 0, 0.0
        d = np.diff(t)
        return int(np.sum(np.maximum(np.round(d / period_ns) - 1, 0))), float(d.max() / 1e6)

    cam_gaps, cam_max = gaps(cam, 1e9 / FPS)
    st_gaps, st_max = gaps(st, 1e9 / STATE_HZ)
    report = ep.stored_cadence
    size = sum(f.stat().st_size for f in path.iterdir())
    duration = (max(cam[-1], st[-1]) - min(cam[0], st[0])) / 1e9
    return {
        "duration_s": round(duration, 3),
        "frames": len(cam),
        "frames_expected": round(duration * FPS),
        "frame_source_gaps": cam_gaps,
        "frame_max_gap_ms": round(cam_max, 2),
        "states": len(st),
        "states_expected": round(duration * STATE_HZ),
        "state_source_gaps": st_gaps,
        "state_max_gap_ms": round(st_max, 2),
        "queue_drops": {k: v.queue_drops for k, v in report.streams.items()} if report else None,
        "cadence": report.status if report else None,
        "bytes": size,
        "bytes_per_s": round(size / max(duration, 1e-9)),
    }


def run_session(dataset: Path, seconds: float, record: bool) -> tuple[dict, Path | None]:
    cfg = SessionConfig(
        dataset=dataset,
        task="bench",
        num_episodes=1,
        episode_time_s=seconds + 30,
        reset_time_s=0.0,
        state_rate_hz=STATE_HZ,
        source="fake",
    )
    script = [(0.5, "space"), (seconds, "s")] if record else [(seconds + 0.5, "q")]
    cam, robot = sources(seconds)
    session = RecorderSession(cfg, cam, robot, ScriptedKeys(script), out=io.StringIO())
    c0, t0 = cpu_seconds(), time.monotonic()
    result = session.run()
    if result.stop_signal is not None:  # the session keeps its episode; the benchmark ends here
        raise Interrupted(result.stop_signal)
    wall, cpu = time.monotonic() - t0, cpu_seconds() - c0
    out = {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cpu_share": round(cpu / wall, 3),
        "camera_frames_delivered": cam.frames_delivered,
    }
    path = result.kept[0].path if record and result.kept else None
    return out, path


def run_naive(dataset: Path, seconds: float) -> tuple[dict, Path]:
    """Baseline: one thread takes the buffered states and the due frame, writing each inline."""
    cam, robot = sources(seconds)
    cam.start()
    robot.start()
    path = dataset / "naive_0000"
    writer = EpisodeWriter(
        path, EpisodeMeta(task="bench", source="fake", camera={"fps": FPS}, robot={"state_rate_hz": STATE_HZ})
    )
    c0, t0 = cpu_seconds(), time.monotonic()
    next_tick, next_frame = t0, t0
    while (now := time.monotonic()) - t0 < seconds:
        for state in robot.drain_states():
            writer.write_state(state)
        if now >= next_frame:
            writer.write_frame(cam.read(timeout_s=1.0))  # blocks until the frame, then writes it
            next_frame += 1.0 / FPS
        next_tick += 0.005
        delay = next_tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    writer.close("unlabeled")
    wall, cpu = time.monotonic() - t0, cpu_seconds() - c0
    cam.stop()
    robot.stop()
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cpu_share": round(cpu / wall, 3),
        "camera_frames_delivered": cam.frames_delivered,
    }, path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each phase (default 60)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/record.json"))
    ap.add_argument("--dir", type=Path, default=None, help="where to write the bags (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the recorded bags")
    ap.add_argument("--disk-stall-ms", type=float, default=0.0, help="block one write per second this long")
    args = ap.parse_args()
    host = machine()
    if args.disk_stall_ms:
        install_disk_stalls(args.disk_stall_ms)
    root = Path(tempfile.mkdtemp(prefix="vipflow-bench-", dir=args.dir))
    try:
        print(f"[1/3] sources only, {args.seconds:g} s ...", flush=True)
        sources, _ = run_session(root / "idle", args.seconds, record=False)
        print(f"[2/3] recorder session, {args.seconds:g} s ...", flush=True)
        rec, rec_path = run_session(root / "rec", args.seconds, record=True)
        rec.update(stream_stats(rec_path, args.seconds))
        print(f"[3/3] naive synchronous writer, {args.seconds:g} s ...", flush=True)
        naive, naive_path = run_naive(root, args.seconds)
        naive.update(stream_stats(naive_path, args.seconds))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    for phase in (rec, naive):
        phase["cpu_share_minus_sources"] = round(phase["cpu_share"] - sources["cpu_share"], 3)
    drops = sum((rec["queue_drops"] or {}).values())
    result = {
        "benchmark": "record",
        "seconds": args.seconds,
        "workload": f"{W}x{H} rgb8 @ {FPS} Hz + robot state @ {STATE_HZ} Hz (fake hardware, real time)",
        "machine": finished(host),
        "sources": sources,
        "recorder": rec,
        "naive": naive,
        "verdict": {
            "recorder_queue_drops": drops,
            "recorder_state_source_gaps": rec["state_source_gaps"],
            "naive_state_source_gaps": naive["state_source_gaps"],
            "recorder_frame_gaps": rec["frame_source_gaps"],
            "naive_frame_gaps": naive["frame_source_gaps"],
            "zero_drops": drops == 0 and rec["frame_source_gaps"] == 0 and rec["state_source_gaps"] == 0,
        },
        "bags_kept_in": str(root) if args.keep else None,
    }
    write_report(args.out, result)
    print(json.dumps(result["verdict"], indent=2))
    for name in ("sources", "recorder", "naive"):
        p = result[name]
        extra = (
            (
                f" frames {p['frames']}/{p['frames_expected']} states {p['states']}/{p['states_expected']} "
                f"frame gaps {p['frame_source_gaps']} state gaps {p['state_source_gaps']} "
                f"{p['bytes_per_s'] / 1e6:.1f} MB/s"
            )
            if "frames" in p
            else ""
        )
        print(f"{name:9s} cpu {p['cpu_share']:.2f} core{extra}")


if __name__ == "__main__":
    run_script(main, "no report written (the JSON is written only when every phase finished)")
