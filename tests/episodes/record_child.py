"""Child process for the SIGKILL test: records episodes from fake hardware until killed.

Usage: python record_child.py DATASET N_COMPLETE
Records N_COMPLETE short episodes (start, stop as success), then starts one more and keeps
recording it until the parent kills the process.
"""

import sys
from pathlib import Path

from vipflow.hardware.fake import FakeCamera, FakeRobot
from vipflow.record.keys import ScriptedKeys
from vipflow.record.session import RecorderSession, SessionConfig

dataset, n = Path(sys.argv[1]), int(sys.argv[2])
script = [(0.05, "space"), (0.5, "s")] * n + [(0.05, "space")]
cfg = SessionConfig(
    dataset=dataset,
    task="close drawer",
    num_episodes=n + 1,
    episode_time_s=600.0,
    reset_time_s=0.0,
    state_rate_hz=200.0,
)
session = RecorderSession(
    cfg,
    FakeCamera(fps=30, height=48, width=64),
    FakeRobot(state_rate_hz=1000),
    ScriptedKeys(script),
    out=sys.stdout,
)
session.run()
