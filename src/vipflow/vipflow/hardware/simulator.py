"""The MuJoCo kitchen (``vipflow.sim``) as a camera, a robot and a clock, and its envelope.

``KitchenSim.camera()/.robot()/.clock()`` hand out these adapters (the hardware factory's driver
``sim``). The simulator itself stays in ``vipflow.sim``: this module only maps it onto the
``vipflow.hardware`` protocols and never imports it, so it needs no mujoco.

The kitchen's Panda reports poses in the kitchen's world frame at its ``end_effector`` site and
has the model's own joint ranges, so the Franka envelope (robot base frame, FR3 ∩ Panda) does
not describe it: ``KITCHEN_ENVELOPE`` does, and only the ``sim-kitchen`` limits profile uses it
(``vipflow.runtime.limits``).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from vipflow.hardware.franka import FRANKA_ENVELOPE, reach_box
from vipflow.hardware.protocols import CameraTimeout, Frame, RobotError, RobotState, RobotTarget

if TYPE_CHECKING:
    from vipflow.sim.kitchen import KitchenSim

# The kitchen model's arm joint ranges (``model.jnt_range[:7]``; joints 4 and 6 differ from a
# real Panda's) and its base in the world frame.
KITCHEN_Q_MIN = (-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -1.6573, -2.8973)
KITCHEN_Q_MAX = (2.8973, 1.7628, 2.8973, -0.4, 2.8973, 2.1127, 2.8973)
KITCHEN_BASE = (0.0, 0.0, 1.8)

# The Franka envelope (a Panda's speeds, the hand) in the kitchen's frame, with the model's joints.
KITCHEN_ENVELOPE = dataclasses.replace(
    FRANKA_ENVELOPE,
    name="sim-kitchen",
    q_min=KITCHEN_Q_MIN,
    q_max=KITCHEN_Q_MAX,
    workspace_min=reach_box(KITCHEN_BASE)[0],
    workspace_max=reach_box(KITCHEN_BASE)[1],
    kinematics=("franka", "none"),  # "none": the end_effector site is not the Franka hand frame
)


class SimCamera:
    """``vipflow.hardware.Camera``: a new frame after every physics step, stamped in sim time."""

    def __init__(self, sim: KitchenSim):
        self.sim = sim
        self._last_step = -1
        self._running = False

    def start(self) -> None:
        self._running = True
        self._last_step = self.sim.steps - 1  # the current scene counts as new

    def read(self, timeout_s: float = 1.0) -> Frame:
        if not self._running:
            raise CameraTimeout("simulated camera is not started; call camera.start() first")
        step, stamp, rgb = self.sim.wait_frame(self._last_step, timeout_s)
        self._last_step = step
        return Frame(stamp_ns=stamp, rgb=rgb)

    def stop(self) -> None:
        self._running = False


class SimRobot:
    """``vipflow.hardware.Robot``: each ``send`` is one 40 ms physics step toward the target."""

    def __init__(self, sim: KitchenSim):
        self.sim = sim
        self._running = False

    def start(self) -> None:
        self._running = True

    def state(self) -> RobotState:
        return self.sim.state()

    def send(self, target: RobotTarget) -> None:
        if not self._running:
            raise RobotError("simulated Franka is not started; call robot.start() first")
        self.sim.command(target)

    def hold(self) -> None:
        self.sim.hold()

    def recover(self) -> None:
        """Nothing latches in simulation; holding is the recovered state."""
        self.sim.hold()

    def stop(self) -> None:
        self.sim.hold()
        self._running = False


class SimClock:
    """``vipflow.hardware.Clock`` in simulated time: sleeping steps the physics (no wall wait)."""

    kind = "simulated"

    def __init__(self, sim: KitchenSim):
        self.sim = sim

    def now_ns(self) -> int:
        return self.sim.now_ns()

    def sleep_until(self, t_ns: int) -> None:
        while self.sim.now_ns() < t_ns:
            self.sim.step()
