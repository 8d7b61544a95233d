"""``record --live``: the recorder's camera and robot state reach a Foxglove client, with the
episode's start and end (and its label) on the status log; recording itself is unchanged."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np

from vipflow.episodes import read_episode
from vipflow.hardware.fake import FakeCamera, FakeRobot
from vipflow.live import LiveConfig, LivePublisher
from vipflow.live import topics as T
from vipflow.live.client import FoxgloveClient, protobuf_class
from vipflow.record.keys import ScriptedKeys
from vipflow.record.session import RecorderSession, SessionConfig


def test_recording_with_live_view(tmp_path):
    cfg = SessionConfig(dataset=tmp_path / "data", task="close drawer", num_episodes=1, episode_time_s=5.0,
                        reset_time_s=0.0, state_rate_hz=100.0)
    wanted = [T.IMAGE, T.ROBOT_STATE, T.EVENT]
    with LivePublisher(LiveConfig(port=0), say=None) as live:
        client = FoxgloveClient(live.url)
        client.wait_for_channels(wanted)
        client.subscribe(wanted)
        keys = ScriptedKeys([(0.3, "space"), (0.6, "s")])
        camera, robot = FakeCamera(fps=30, height=24, width=32), FakeRobot(state_rate_hz=1000)
        rec = RecorderSession(cfg, camera, robot, keys, out=io.StringIO(), live=live)
        result = rec.run()
        live.flush()
        got = client.receive(lambda m: any(b"episode_end" in x.payload for x in m), timeout_s=20)
        client.close()
    assert [e.label for e in result.episodes] == ["success"]
    assert read_episode(tmp_path / "data" / "episode_0000").meta.label == "success"
    events = [json.loads(m.payload) for m in got if m.topic == T.EVENT]
    assert [(e["event"], e["name"], e["label"]) for e in events] == [
        ("episode_start", "episode_0000", ""), ("episode_end", "episode_0000", "success")]
    states = [m for m in got if m.topic == T.ROBOT_STATE]
    images = [m for m in got if m.topic == T.IMAGE]
    assert len(states) > 10 and len(images) > 5
    # thinned to the viewer's 50 Hz, not the robot's 1 kHz
    span_s = (states[-1].log_time - states[0].log_time) / 1e9
    assert len(states) / span_s < 60
    image = protobuf_class(client.channels[T.IMAGE]).FromString(images[-1].payload)
    assert cv2.imdecode(np.frombuffer(image.data, np.uint8), cv2.IMREAD_COLOR).shape == (24, 32, 3)
