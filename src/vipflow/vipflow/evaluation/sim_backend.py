"""The FrankaKitchen simulator as an evaluation backend: it resets and judges itself.

Rollout ``i`` of a session with seed ``s`` starts from ``KitchenSim.reset(s * 1000 + i)``, so a
(policy, seed) pair is reproducible rollout by rollout, different seeds see different starts, and
rollout ``i`` of two policies evaluated with the same seed start from the same scene (the ledger
records the reset seed, which pairs them in ``vipflow evaluate table``).
Perception runs inline: the physics clock does not advance while the encoder runs, so the
threaded mode's wall-clock decoupling has nothing to decouple here.

The kitchen reports poses in its world frame at the ``end_effector`` site, so the default
table-top box (robot base frame) does not apply: the limits move to the ``sim-kitchen`` profile
(``vipflow.runtime.limits``), with the workspace a box around the task's handle and the arm's
start, the model's joint ranges, and the Franka-hand kinematic predictions switched off (the
site is not the Franka hand frame). Only this backend selects that profile; the step limits of
``base`` carry over (the demo passes the profile's own, looser ones).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from vipflow.evaluation.operator import Operator
from vipflow.hardware.factory import SimulatorSpec, open_hardware
from vipflow.hardware.simulator import KITCHEN_ENVELOPE
from vipflow.runtime.limits import SIM_PROFILE, JointLimits, SafetyLimits, WorkspaceBox

WORKSPACE_PADDING_M = 0.35
JOINT_MARGIN_RAD = 0.05


class SimBackend:
    name = "sim"
    perception = "inline"

    def __init__(self, task: str, seed: int = 0, image_size: int = 224) -> None:
        self.task = task
        self.seed = int(seed)
        self.image_size = image_size
        spec = SimulatorSpec(task, seed=self.seed, image_size=image_size)
        hw = open_hardware(spec, spec)
        self.sim, self.camera, self.robot, self.clock = hw.sim, hw.camera, hw.robot, hw.clock

    def start(self) -> None:
        self.robot.start()
        self.camera.start()

    def reset(self, index: int, total: int, operator: Operator) -> dict[str, Any]:
        seed = self.seed * 1000 + index
        self.sim.reset(seed)
        self.camera.start()  # the reset scene is the first frame of the rollout
        return {"reset_seed": seed}

    def restore(self, index: int, total: int, operator: Operator, photo: str | None) -> dict[str, Any]:
        """The same start again for the next policy of a paired trial: the same reset seed."""
        return self.reset(index, total, operator)

    def scene_photo(self) -> np.ndarray | None:
        return None  # the reset seed identifies the start exactly

    def judge(self, index: int, operator: Operator) -> tuple[bool, str]:
        return bool(self.sim.success()), "sim"

    def limits(self, base: SafetyLimits) -> SafetyLimits:
        anchor = np.stack([self.sim.site_position(self.sim.task.site), self.sim.home_ee_pose[:3],
                           self.sim.state().ee_pose[:3]])
        env = KITCHEN_ENVELOPE
        lo = np.clip(anchor.min(axis=0) - WORKSPACE_PADDING_M, env.workspace_min, env.workspace_max)
        hi = np.clip(anchor.max(axis=0) + WORKSPACE_PADDING_M, env.workspace_min, env.workspace_max)
        box = WorkspaceBox(min=tuple(map(float, lo)), max=tuple(map(float, hi)))
        rng = self.sim.model.jnt_range[:7]
        joints = JointLimits(min=tuple(map(float, rng[:, 0])), max=tuple(map(float, rng[:, 1])),
                             margin_rad=JOINT_MARGIN_RAD)
        return dataclasses.replace(base, workspace=box, joints=joints, kinematics="none", profile=SIM_PROFILE)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "task": self.task, "seed": self.seed, "image_size": self.image_size}

    def stop(self) -> None:
        try:
            self.robot.stop()
            self.camera.stop()
        finally:
            self.sim.close()
