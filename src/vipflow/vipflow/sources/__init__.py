"""Camera and robot-state sources that implement the ``vipflow.hardware`` protocols.

- ``realsense.RealSenseCamera``: an Intel RealSense colour stream through pyrealsense2.
- ``replay``: play back a recorded episode (camera + robot state) or an mp4 with its original
  timing, for tests and for dry runs of the recorder and the control loop.

The simulator (``vipflow.sim.KitchenSim(...).camera()/.robot()``) and ROS topics provide more
sources; the recorder accepts any ``Camera``/``Robot``.
"""

from vipflow.sources.realsense import RealSenseCamera
from vipflow.sources.replay import ReplayCamera, ReplayFinished, ReplayRobot, replay_episode, replay_video

__all__ = [
    "RealSenseCamera",
    "ReplayCamera",
    "ReplayFinished",
    "ReplayRobot",
    "replay_episode",
    "replay_video",
]
