"""Acceptance: a simulated evaluation with ``--live`` streams to a client speaking Foxglove's
WebSocket protocol: image, reward and status messages with the advertised schemas and
increasing timestamps."""

from __future__ import annotations

import json
import threading

import cv2
import numpy as np
import pytest
from live_helpers import connect_when_up, free_port, gate_after_server_start

from vipflow.cli.main import main
from vipflow.encoders import load_encoder, save_encoder
from vipflow.live import topics as T
from vipflow.live.client import protobuf_class
from vipflow.policy.untrained import untrained_policy

pytest.importorskip("vipflow.sim")
pytestmark = pytest.mark.slow


def test_live_evaluation_streams_image_reward_and_status(tmp_path, monkeypatch):
    with pytest.warns(UserWarning, match="random weights"):
        encoder = load_encoder("vip", arch="convnet-small", random_init=True)
    weights = save_encoder(encoder, tmp_path / "kitchen.safetensors")
    untrained_policy(encoder, tmp_path / "policy")
    goal = tmp_path / "goal.png"
    cv2.imwrite(str(goal), np.full((64, 64, 3), 128, np.uint8))
    port = free_port()
    codes: list[int] = []
    run = threading.Thread(target=lambda: codes.append(main([
        "evaluate", "run", "--policy", str(tmp_path / "policy"), "--name", "live", "--backend", "sim",
        "--task", "slide_cabinet", "--rollouts", "2", "--horizon", "20", "--image-size", "64",
        "--encoder-weights", str(weights), "--goal-image", str(goal), "--output", str(tmp_path / "out"),
        "--rt-priority", "0", "--live", "--live-port", str(port),
    ])))
    subscribed = gate_after_server_start(monkeypatch, "vipflow.evaluation.run.load_policy")
    run.start()
    wanted = [T.IMAGE, T.REWARD, T.LOG, T.SAFETY, T.ACTION, T.ROBOT_STATE, T.EVENT]
    client = connect_when_up(f"ws://127.0.0.1:{port}")
    try:
        client.wait_for_channels(wanted)
        client.subscribe(wanted)
        subscribed.set()
        last = b"rollout_001: rollout end"
        got = client.receive(lambda m: any(last in x.payload for x in m if x.topic == T.LOG), timeout_s=240)
    finally:
        client.close()
        run.join(timeout=240)
    assert codes == [0]

    ch = client.channels
    assert (ch[T.IMAGE]["schemaName"], ch[T.IMAGE]["encoding"]) == ("foxglove.CompressedImage", "protobuf")
    assert (ch[T.LOG]["schemaName"], ch[T.LOG]["encoding"]) == ("foxglove.Log", "protobuf")
    assert (ch[T.REWARD]["schemaName"], ch[T.REWARD]["schemaEncoding"]) == ("vipflow.Reward", "jsonschema")
    assert json.loads(ch[T.REWARD]["schema"]) == T.REWARD_SCHEMA

    by_topic = {t: [m for m in got if m.topic == t] for t in wanted}
    for topic, msgs in by_topic.items():
        assert msgs, f"nothing received on {topic}"
        stamps = [m.log_time for m in msgs]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps), f"{topic}: stamps not increasing"

    Image = protobuf_class(ch[T.IMAGE])
    images = [Image.FromString(m.payload) for m in by_topic[T.IMAGE]]
    assert all(im.format == "jpeg" for im in images)
    rgb = cv2.imdecode(np.frombuffer(images[-1].data, np.uint8), cv2.IMREAD_COLOR)
    assert rgb.shape == (64, 64, 3)
    assert images[-1].timestamp.seconds * 10**9 + images[-1].timestamp.nanos == by_topic[T.IMAGE][-1].log_time

    rewards = [json.loads(m.payload) for m in by_topic[T.REWARD]]
    assert len(rewards) >= 20  # every tick of the second rollout at least
    values = np.array([r["value"] for r in rewards])
    assert np.all(np.isfinite(values)) and np.all(values <= 0)  # VIP: -L2 distance
    assert all(set(r) >= {"timestamp", "value", "reward"} for r in rewards)

    Log = protobuf_class(ch[T.LOG])
    logs = [Log.FromString(m.payload).message for m in by_topic[T.LOG]]
    assert any(text.startswith("rollout_000: rollout start") for text in logs)  # nothing missed
    assert any(text.startswith("rollout_001: rollout start") for text in logs)
    assert any(text.startswith("rollout_001: rollout end (") for text in logs)
    events = [json.loads(m.payload) for m in by_topic[T.EVENT]]
    end = next(e for e in events if e["event"] == "rollout_end" and e["index"] == 1)
    assert end["label"] in ("success", "failure") and end["detail"] == "completed"
    safety = [json.loads(m.payload) for m in by_topic[T.SAFETY]]
    assert all(isinstance(s["held"], bool) for s in safety)
    actions = [json.loads(m.payload) for m in by_topic[T.ACTION]]
    assert all(a["space"] == "ee_delta" and len(a["commanded"]) == 7 for a in actions)
