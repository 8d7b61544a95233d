"""``demo --live``: simulated demos reach the viewer as episodes with their frames and labels."""

from __future__ import annotations

import json

import pytest

from vipflow.live import LiveConfig, LivePublisher
from vipflow.live import topics as T
from vipflow.live.client import FoxgloveClient

pytest.importorskip("vipflow.sim")
pytestmark = pytest.mark.slow


def test_simulated_demos_stream_to_the_viewer(tmp_path):
    from vipflow.sim.demos import record_demos

    wanted = [T.IMAGE, T.ROBOT_STATE, T.EVENT]
    with LivePublisher(LiveConfig(port=0), say=None) as live:
        client = FoxgloveClient(live.url)
        client.wait_for_channels(wanted)
        client.subscribe(wanted)
        demos = record_demos(tmp_path / "demos", "slide_cabinet", n_expert=1, n_failure=1, image_size=32,
                             horizon=8, progress=False, live=live)
        live.flush()
        got = client.receive(lambda m: sum(b"episode_end" in x.payload for x in m) == 2, timeout_s=30)
        client.close()
    events = [json.loads(m.payload) for m in got if m.topic == T.EVENT]
    labels = ["success" if ok else "failure" for _, ok, _ in demos]
    assert [(e["event"], e["label"]) for e in events] == [
        ("episode_start", ""), ("episode_end", labels[0]), ("episode_start", ""), ("episode_end", labels[1])]
    images = [m.log_time for m in got if m.topic == T.IMAGE]
    assert len(images) == 2 * 9  # horizon + 1 frames per demo
    assert images == sorted(images) and len(set(images)) == len(images)  # increasing across demos
