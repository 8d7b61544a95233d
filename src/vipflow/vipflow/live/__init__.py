"""Seeing it live: Foxglove views of camera, rewards, actions and safety.

- `LivePublisher`: a Foxglove WebSocket server fed off the command path (``--live``).
- `vipflow.live.layouts`: Foxglove layouts for our ROS topics, the live server and recorded episodes.
- `vipflow.live.sidecar`: per-episode MCAP files with the value and reward at each frame's time.
"""

from vipflow.live.cli import add_live_arguments, open_live
from vipflow.live.publisher import LiveConfig, LiveError, LivePublisher, TickView

__all__ = ["LiveConfig", "LiveError", "LivePublisher", "TickView", "add_live_arguments", "open_live"]
