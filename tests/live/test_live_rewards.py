"""``rewards --live`` on a video: each frame and its value/reward reach a Foxglove client while
the video is scored, stamped at the video's own time base."""

from __future__ import annotations

import json
import threading
import warnings

import numpy as np
from live_helpers import connect_when_up, free_port, gate_after_server_start

from vipflow.cli.main import main
from vipflow.live import topics as T
from vipflow.video import write_video


def test_rewards_on_a_video_streams_frames_and_rewards(tmp_path, monkeypatch):
    frames = np.stack([np.full((32, 32, 3), 10 * i, np.uint8) for i in range(20)])
    video = write_video(tmp_path / "v.mp4", frames, fps=25.0)
    goal = tmp_path / "goal.png"
    import cv2

    cv2.imwrite(str(goal), frames[-1])
    port = free_port()
    codes: list[int] = []

    def score():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            codes.append(main(["rewards", str(video), "--encoder", "vip", "--arch", "convnet-small",
                               "--random-init", "--goal-image", str(goal), "--out", str(tmp_path / "out"),
                               "--live", "--live-port", str(port)]))

    wanted = [T.IMAGE, T.REWARD, T.EVENT]
    subscribed = gate_after_server_start(monkeypatch, "vipflow.cli.rewards.load_encoder")
    run = threading.Thread(target=score)
    run.start()
    client = connect_when_up(f"ws://127.0.0.1:{port}")
    client.wait_for_channels(wanted)
    client.subscribe(wanted)
    subscribed.set()
    got = client.receive(lambda m: any(b"episode_end" in x.payload for x in m), timeout_s=120)
    client.close()
    run.join(timeout=120)
    assert codes == [0]
    rewards = [(m.log_time, json.loads(m.payload)) for m in got if m.topic == T.REWARD]
    images = [m.log_time for m in got if m.topic == T.IMAGE]
    assert [r["frame"] for _, r in rewards] == list(range(20))
    assert all(r["goal"] == "image" for _, r in rewards)
    steps = np.diff([t for t, _ in rewards])
    assert np.all(steps == 40_000_000)  # 25 fps time base
    assert images == [t for t, _ in rewards]  # each frame with its reward
    doc = json.loads((tmp_path / "out" / "v.json").read_text())
    np.testing.assert_allclose([r["value"] for _, r in rewards], doc["values"]["image"], rtol=1e-5)
