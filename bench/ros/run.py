"""ROS 2 benchmark: what running as nodes over DDS costs, against the same work in-process.

* reward: vip_reward_node as a process; images published over DDS at ``--image-hz``; latency =
  image publish -> its ``[value, reward]`` (PointStamped, matched by the image stamp) arriving
  back, p50/p99. Baseline, same run, same encoder and frames: decode + encode + value called
  in this process. Overhead = DDS p99 - in-process p99 (acceptance: <= 3 ms).
* policy: kitchen_sim (real time, 25 Hz) + rwr_policy_node with a policy on the kitchen encoder
  (random weights: timing does not depend on them), ``--ticks`` ticks after ~/start. The loop's
  own command period p50/p99/max and deadline misses (from its final status), and the period of
  the commands as they arrive at a subscriber. Acceptance: period p99 <= 42 ms, 0 misses (on a
  quiet 2-core CPU; the JSON records the load average before and after).

    .venv/bin/python bench/ros/run.py                      # ~2 min
    .venv/bin/python bench/ros/run.py --frames 100 --ticks 250

Needs the ROS 2 wheels and the installed packages (`make setup`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "ros"))
from rosproc import Domain, Node, Probe, ensure_workspace, node_env, wait_until  # noqa: E402

from vipflow.benchmark import finished, machine, write_report  # noqa: E402
from vipflow.episodes import messages as m  # noqa: E402
from vipflow.hardware import Frame  # noqa: E402
from vipflow.rewards import values as reward_values  # noqa: E402
from vipflow.ros.topic_hardware import decode_rgb, image_cdr  # noqa: E402


def pct(xs, q) -> float:
    return round(float(np.percentile(xs, q)), 3) if len(xs) else float("nan")


def summary(ms: list[float]) -> dict:
    return {
        "n": len(ms),
        "p50": pct(ms, 50),
        "p99": pct(ms, 99),
        "max": round(float(max(ms)), 3) if ms else None,
    }


def frames(n: int, size: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (size, size, 3), dtype=np.uint8) for _ in range(n)]


def bench_reward(args, log_dir: Path) -> dict:
    import torch
    from geometry_msgs.msg import PointStamped
    from sensor_msgs.msg import Image

    from vipflow.encoders import load_encoder, save_encoder

    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoder = load_encoder("vip", arch=args.arch, random_init=True, seed=0)
    weights = save_encoder(encoder, log_dir / "encoder.safetensors")
    goal = encoder.embed_images(frames(1, args.size)[0][None])[0]
    images = frames(args.frames, args.size)

    # in-process: the same work the node does per frame (decode the CDR, encode, value)
    inproc = []
    for i, rgb in enumerate(images):
        raw = image_cdr(Frame(i, rgb), i)
        t0 = time.perf_counter()
        decoded = decode_rgb(m.deserialize(raw, m.MSG_IMAGE))
        emb = encoder.embed_images(decoded[None], batch_size=1)
        reward_values(emb, goal, encoder.similarity, 0.98)
        inproc.append((time.perf_counter() - t0) * 1e3)

    goal_png = log_dir / "goal.png"
    import cv2

    cv2.imwrite(str(goal_png), images[0])
    domain = Domain()
    node = Node(
        "vip_reward_node",
        node_env(domain.id),
        log_dir,
        parameters={
            "image_topic": "/b/image",
            "reward_stamped_topic": "/b/reward_stamped",
            "encoder": "vip",
            "encoder_arch": args.arch,
            "encoder_weights": str(weights),
            "goal.images": [str(goal_png)],
        },
    )
    probe = Probe(domain.id)
    try:
        arrived: dict[int, int] = {}
        probe.node.create_subscription(
            PointStamped,
            "/b/reward_stamped",
            lambda msg: arrived.setdefault(
                msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec, time.perf_counter_ns()
            ),
            10,
        )
        pub = probe.publisher(Image, "/b/image")
        node.wait_for_log(r"goal set from", 180)
        wait_until(lambda: pub.get_subscription_count() > 0, 30, "the reward node", node)
        sent: dict[int, int] = {}
        for _ in range(2):  # warm-up
            stamp = probe.now_ns()
            pub.publish(image_cdr(Frame(stamp, images[0]), stamp))
            time.sleep(0.3)
        arrived.clear()
        for rgb in images:
            stamp = probe.now_ns()
            raw = image_cdr(Frame(stamp, rgb), stamp)
            sent[stamp] = time.perf_counter_ns()
            pub.publish(raw)
            time.sleep(1.0 / args.image_hz)
        time.sleep(1.0)
        dds = [(arrived[s] - t) / 1e6 for s, t in sent.items() if s in arrived]
    finally:
        node.stop()
        probe.close()
        domain.release()
    out = {
        "encoder": {"name": "vip", "arch": args.arch, "weights": "random", "image": [args.size, args.size]},
        "image_hz": args.image_hz,
        "frames_sent": len(images),
        "frames_answered": len(dds),
        "dds_latency_ms": summary(dds),
        "inprocess_latency_ms": summary(inproc),
    }
    out["overhead_p50_ms"] = round(out["dds_latency_ms"]["p50"] - out["inprocess_latency_ms"]["p50"], 3)
    out["overhead_p99_ms"] = round(out["dds_latency_ms"]["p99"] - out["inprocess_latency_ms"]["p99"], 3)
    out["acceptance"] = {"overhead_p99_le_3ms": out["overhead_p99_ms"] <= 3.0}
    return out


def bench_policy(args, log_dir: Path) -> dict:
    import torch
    from geometry_msgs.msg import PoseStamped
    from rosproc import PACKAGE_DIRS, plan_specs
    from std_msgs.msg import String
    from std_srvs.srv import Trigger

    sys.path[:0] = [str(d) for d in PACKAGE_DIRS]  # the plan reads the nodes' parameter schemas

    from vipflow.encoders import load_encoder
    from vipflow.policy.untrained import untrained_policy
    from vipflow.sim.encoder import shipped_encoder_path

    torch.set_num_threads(1)
    weights = shipped_encoder_path("slide_cabinet")
    encoder = load_encoder("vip", weights)
    untrained_policy(encoder, log_dir / "policy")
    site = log_dir / "site.yaml"
    site.write_text(f"kitchen_sim:\n  ros__parameters:\n    image_size: {args.kitchen_size}\n")
    specs = plan_specs(
        "task",
        "slide_cabinet",
        policy=str(log_dir / "policy"),
        encoder_weights=str(weights),
        reward_node="false",
        horizon=str(args.ticks),
        params_file=str(site),
    )
    domain = Domain()
    env = node_env(domain.id)
    nodes = [
        Node(s.executable, env, log_dir, name=s.name, parameters=s.parameters, params_files=(str(site),))
        for s in specs
        if hasattr(s, "executable")
    ]
    probe = Probe(domain.id)
    try:
        commands, status = [], []
        probe.node.create_subscription(PoseStamped, "/kitchen/equilibrium_pose", commands.append, 100)
        probe.node.create_subscription(String, "/vip/policy_status", status.append, 100)
        policy = next(n for n in nodes if n.name == "rwr_policy_node")
        policy.wait_for_log(r"call ~/start to move", 240)
        time.sleep(2.0)
        load_before = list(os.getloadavg())
        assert probe.call(Trigger, "/rwr_policy_node/start", Trigger.Request()).success
        wait_until(
            lambda: any(
                json.loads(s.data).get("state") == "idle" and json.loads(s.data).get("runs") for s in status
            ),
            args.ticks / 25 + 60,
            "the run to end",
            *nodes,
        )
        final = next(json.loads(s.data) for s in status if json.loads(s.data).get("state") == "idle")
        stamps = [c.header.stamp.sec + c.header.stamp.nanosec * 1e-9 for c in commands]
        external = list(np.diff(stamps) * 1e3)
    finally:
        for n in nodes:
            n.stop()
        probe.close()
        domain.release()
    timing = final["last_timing"] or {}
    period = timing.get("loop_period_ms", {})
    out = {
        "ticks": final["last_ticks"],
        "stop_reason": final["last_stop_reason"],
        "holds": final["last_holds"],
        "kitchen_image": args.kitchen_size,
        "loop_period_ms": period,
        "deadline_misses": timing.get("deadline_misses"),
        "commands_received": len(commands),
        "received_command_period_ms": summary(external),
        "load_avg_at_start": load_before,
    }
    out["acceptance"] = {
        "period_p99_le_42ms": period.get("p99", 1e9) <= 42.0,
        "zero_deadline_misses": timing.get("deadline_misses") == 0,
    }
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=300, help="images sent to the reward node")
    p.add_argument("--image-hz", type=float, default=15.0, help="image rate (below the encoder's capacity)")
    p.add_argument("--size", type=int, default=96, help="image side, pixels")
    p.add_argument("--arch", default="convnet-small", help="VIP architecture of the reward node")
    p.add_argument("--ticks", type=int, default=750, help="policy ticks (30 s at 25 Hz)")
    p.add_argument("--kitchen-size", type=int, default=64, help="kitchen_sim image side")
    p.add_argument("--out", type=Path, default=Path("bench/results/ros.json"))
    args = p.parse_args()
    ensure_workspace()
    host = machine()
    with tempfile.TemporaryDirectory(prefix="bench_ros_") as tmp:
        reward = bench_reward(args, Path(tmp))
        (Path(tmp) / "p").mkdir()
        policy = bench_policy(args, Path(tmp) / "p")
    out = {
        "benchmark": "ros",
        "machine": finished(host),
        "reward_node": reward,
        "policy_node": policy,
    }
    write_report(args.out, out)
    r, q = reward, policy
    print(
        f"reward node: DDS p50/p99 {r['dds_latency_ms']['p50']}/{r['dds_latency_ms']['p99']} ms, in-process "
        f"{r['inprocess_latency_ms']['p50']}/{r['inprocess_latency_ms']['p99']} ms, overhead p99 "
        f"{r['overhead_p99_ms']} ms ({r['frames_answered']}/{r['frames_sent']} answered)"
    )
    lp = q["loop_period_ms"]
    print(
        f"policy node: {q['ticks']} ticks, period p50/p99/max "
        f"{lp.get('p50')}/{lp.get('p99')}/{lp.get('max')} ms, "
        f"deadline misses {q['deadline_misses']}; load {out['machine']['load_avg_start']} -> "
        f"{out['machine']['load_avg_end']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
