"""Scripted experts: the simulated hand that moves the arm during kinesthetic recording.

Each expert is a small phase machine that, every 40 ms, returns an absolute ``RobotTarget``
(gripper position, orientation and finger width) computed from the live scene: handles are read
from their sites, so a door being pulled is followed along its real arc. An expert is a
``KitchenSim`` driver (``sim.set_driver(expert)``) and can also be stepped directly.

``ExpertStyle`` perturbs an expert into a *noisy* demonstrator (jittered targets, slower or
faster hand) or a *failed* one (misses the handle, gives up early, pushes the wrong way,
freezes); :mod:`vipflow.sim.demos` draws these styles to mirror CloseDrawer's mix of expert
and failed demonstrations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from vipflow.hardware import RobotTarget
from vipflow.hardware.franka import GRIPPER_MAX_WIDTH_M
from vipflow.sim.kitchen import KitchenSim
from vipflow.sim.tasks import get_task

FAILURE_MODES = ("miss", "give_up", "wrong_way", "freeze")


@dataclass(frozen=True)
class ExpertStyle:
    """How a demonstrator deviates from the clean expert.

    ``target_noise``: std (m) of Gaussian jitter on every target. ``speed``: scale of the hand's
    step length. ``failure``: one of ``FAILURE_MODES`` or None; ``failure_at`` is the fraction of
    the episode after which ``give_up``/``freeze`` strike; ``miss_offset`` (m) shifts the handle
    the expert believes in (``miss``).
    """

    target_noise: float = 0.0
    speed: float = 1.0
    failure: str | None = None
    failure_at: float = 0.1
    miss_offset: float = 0.14

    def __post_init__(self) -> None:
        if self.failure is not None and self.failure not in FAILURE_MODES:
            raise ValueError(f"unknown failure mode {self.failure!r}; choose from {FAILURE_MODES}")


class ScriptedExpert:
    """Base phase machine: move the gripper toward a waypoint, a bounded step per period."""

    max_step = 0.04  # metres of target lead per period; the servo law caps joint speed anyway
    reach_tol = 0.015
    turn_axis = (0.0, 0.0, 1.0)  # world axis of the wrist turn ``plan`` returns (yaw by default)

    def __init__(self, style: ExpertStyle | None = None, horizon: int = 50, seed: int = 0):
        self.style = style or ExpertStyle()
        self.horizon = horizon
        self.rng = np.random.default_rng(seed)
        self.t = 0
        self.phase = 0
        self.phase_t = 0
        self._miss = np.zeros(3)
        self._frozen: RobotTarget | None = None
        self._started = False

    # subclasses fill these two
    def start(self, sim: KitchenSim) -> None:
        """Read the scene at the episode start."""

    def plan(self, sim: KitchenSim, ee: np.ndarray) -> tuple[np.ndarray, float, float, bool]:
        """(waypoint xyz, gripper width, wrist turn rad, phase finished) for the current phase.

        The wrist turns about ``turn_axis`` (world frame) from the home orientation."""
        raise NotImplementedError

    def handle(self, sim: KitchenSim, site: str) -> np.ndarray:
        """A site's position as this demonstrator perceives it (shifted for ``miss``)."""
        return sim.site_position(site) + self._miss

    def __call__(self, sim: KitchenSim) -> RobotTarget:
        if not self._started:
            self._started = True
            if self.style.failure == "miss":
                # The hand stops short of the handle (and a little to the side): it closes on air.
                side = self.rng.normal(size=3) * 0.3
                side[1] = -1.0
                self._miss = self.style.miss_offset * side / np.linalg.norm(side)
            self.start(sim)
        state = sim.state()
        if self._frozen is not None:
            return self._frozen
        give_up = self.style.failure in ("give_up", "freeze")
        if give_up and self.t >= self.style.failure_at * self.horizon:
            self._frozen = self._stop_target(sim, state.ee_pose)
            return self._frozen
        ee = state.ee_pose
        waypoint, gripper, yaw, finished = self.plan(sim, ee[:3])
        if finished:
            self.phase += 1
            self.phase_t = 0
            waypoint, gripper, yaw, _ = self.plan(sim, ee[:3])
        if self.style.failure == "wrong_way" and self.phase >= 1:
            waypoint = ee[:3] - (waypoint - ee[:3])
        delta = waypoint - ee[:3]
        lead = self.max_step * self.style.speed
        dist = float(np.linalg.norm(delta))
        if dist > lead:
            delta *= lead / dist
        position = ee[:3] + delta + self.rng.normal(0.0, self.style.target_noise, size=3)
        self.t += 1
        self.phase_t += 1
        return RobotTarget(gripper_width=gripper, ee_pose=self._pose(sim, position, yaw, self.turn_axis))

    def _stop_target(self, sim: KitchenSim, ee: np.ndarray) -> RobotTarget:
        """``freeze`` holds hand and fingers; ``give_up`` lets go and backs away 8 cm."""
        position = ee[:3].copy()
        width = sim.state().gripper_width
        if self.style.failure == "give_up":
            position[1] -= 0.08
            width = GRIPPER_MAX_WIDTH_M
        return RobotTarget(gripper_width=width, ee_pose=self._pose(sim, position, 0.0))

    @staticmethod
    def _pose(
        sim: KitchenSim, position: np.ndarray, turn: float, axis: tuple[float, ...] = (0.0, 0.0, 1.0)
    ) -> np.ndarray:
        rot = Rotation.from_rotvec(turn * np.asarray(axis)) * Rotation.from_quat(sim.home_ee_pose[3:])
        return np.concatenate([position, rot.as_quat()])

    def reached(self, ee: np.ndarray, waypoint: np.ndarray) -> bool:
        return float(np.linalg.norm(waypoint - ee)) < self.reach_tol


class SlideCabinetExpert(ScriptedExpert):
    """Approach beside the handle (7 cm to −x, in front), move in to handle depth, push +x 27 cm."""

    def start(self, sim: KitchenSim) -> None:
        self.handle0 = self.handle(sim, "slide_site")

    def plan(self, sim, ee):
        h = self.handle0
        open_ = GRIPPER_MAX_WIDTH_M
        if self.phase == 0:
            wp = h + np.array([-0.07, -0.06, 0.0])
            return wp, open_, 0.0, self.reached(ee, wp)
        if self.phase == 1:
            wp = h + np.array([-0.07, 0.0, 0.0])
            return wp, open_, 0.0, self.reached(ee, wp)
        return h + np.array([0.20, 0.0, 0.0]), open_, 0.0, False


class LightSwitchExpert(ScriptedExpert):
    """Fingers closed: come in right of the lever at its depth, then sweep it to the left (−x)."""

    def start(self, sim: KitchenSim) -> None:
        self.lever0 = self.handle(sim, "light_site")

    def plan(self, sim, ee):
        h = self.lever0
        if self.phase == 0:
            wp = h + np.array([0.05, -0.04, 0.0])
            return wp, 0.0, 0.0, self.reached(ee, wp)
        if self.phase == 1:
            wp = h + np.array([0.05, 0.0, 0.0])
            return wp, 0.0, 0.0, self.reached(ee, wp)
        return h + np.array([-0.12, 0.0, 0.0]), 0.0, 0.0, False


class DoorExpert(ScriptedExpert):
    """Straddle a vertical door handle, close the fingers, pull along the door's arc.

    The wrist turns by half the door angle so the fingers stay around the handle as it swings.
    ``opening`` is the sign of the joint motion that opens the door.
    """

    site = ""
    joint = ""
    opening = -1.0
    arc_step = 0.3  # rad of door angle the target leads by
    grip_width = 0.0
    close_steps = 3
    grasp_height = 0.0  # metres along the handle from its site

    def start(self, sim: KitchenSim) -> None:
        self.angle0 = self._angle(sim)

    def _angle(self, sim: KitchenSim) -> float:
        j = sim.model.joint(self.joint).qposadr[0]
        return float(sim.data.qpos[j])

    def plan(self, sim, ee):
        h = self.handle(sim, self.site) + np.array([0.0, 0.0, self.grasp_height])
        open_ = GRIPPER_MAX_WIDTH_M
        if self.phase <= 1:  # straight in: the reset already put the fingers in front of it
            close = float(np.linalg.norm(h - ee)) < 0.03
            return h, open_, 0.0, close or self.phase_t > 6
        if self.phase == 2:
            return h, self.grip_width, 0.0, self.phase_t >= self.close_steps
        anchor, axis = sim.joint_anchor(self.joint)
        turned = self._angle(sim) - self.angle0
        ahead = Rotation.from_rotvec(axis * self.opening * self.arc_step)
        wp = anchor + ahead.apply(h - anchor)
        yaw = float(axis[2]) * turned / 2.0
        return wp, self.grip_width, yaw, False


class MicrowaveExpert(DoorExpert):
    site = "microhandle_site"
    joint = "microwave"
    opening = -1.0


class HingeCabinetExpert(DoorExpert):
    site = "hinge_site2"
    joint = "right_hinge_cabinet"
    opening = 1.0
    grasp_height = -0.12  # low on the handle: the cabinet is at the edge of the arm's reach


class KnobExpert(ScriptedExpert):
    """Straddle a burner knob's grip bar, close the fingers, turn the wrist about the knob axis
    (world +y, toward the stove) by ``turn`` rad (the goal is 0.88 +- 0.3)."""

    site = ""
    turn = 1.0
    turn_rate = 0.1  # rad per period
    turn_axis = (0.0, 1.0, 0.0)

    def start(self, sim: KitchenSim) -> None:
        self.knob0 = self.handle(sim, self.site)

    def plan(self, sim, ee):
        h = self.knob0
        open_ = GRIPPER_MAX_WIDTH_M
        if self.phase == 0:
            wp = h + np.array([0.0, -0.05, 0.0])
            return wp, open_, 0.0, self.reached(ee, wp)
        if self.phase == 1:
            return h, open_, 0.0, self.reached(ee, h) or self.phase_t > 8
        if self.phase == 2:
            return h, 0.0, 0.0, self.phase_t >= 3
        return h, 0.0, min(self.turn, self.turn_rate * (self.phase_t + 1)), False


class BottomBurnerExpert(KnobExpert):
    site = "knob2_site"


class TopBurnerExpert(KnobExpert):
    site = "knob4_site"


class KettleExpert(ScriptedExpert):
    """Fingers closed, wrist pitched down (the kettle sits low, near the base), come down in
    front of the kettle's body and push the kettle ~40 cm back (+y) onto the far burner."""

    turn_axis = (1.0, 0.0, 0.0)
    pitch = -0.8

    def start(self, sim: KitchenSim) -> None:
        self.kettle0 = self.handle(sim, "kettle_site")

    def plan(self, sim, ee):
        front = self.kettle0 + np.array([0.0, -0.15, -0.17])
        if self.phase == 0:
            return front, 0.0, self.pitch, self.reached(ee, front)
        return front + np.array([0.0, 0.38, 0.0]), 0.0, self.pitch, False


class PlayMotion(ScriptedExpert):
    """Exploration, not a task: the hand moves to random waypoints within ``reach`` of where it
    started (near a handle, so it bumps and drags things), dwelling 6-15 periods at each, with
    the fingers opening or closing and the wrist turning at random. Play data for pretraining."""

    reach = np.array([0.15, 0.12, 0.10])
    max_turn = 0.4

    def start(self, sim: KitchenSim) -> None:
        self.origin = sim.state().ee_pose[:3].copy()
        self.moves: list[tuple[np.ndarray, float, float, int]] = []

    def plan(self, sim, ee):
        while len(self.moves) <= self.phase:
            self.moves.append((
                self.origin + self.rng.uniform(-self.reach, self.reach),
                float(self.rng.choice([0.0, GRIPPER_MAX_WIDTH_M])),
                float(self.rng.uniform(-self.max_turn, self.max_turn)),
                int(self.rng.integers(6, 16)),
            ))
        waypoint, width, turn, dwell = self.moves[self.phase]
        return waypoint, width, turn, self.phase_t >= dwell


EXPERTS: dict[str, type[ScriptedExpert]] = {
    "slide_cabinet": SlideCabinetExpert,
    "microwave": MicrowaveExpert,
    "hinge_cabinet": HingeCabinetExpert,
    "light_switch": LightSwitchExpert,
    "kettle": KettleExpert,
    "bottom_burner": BottomBurnerExpert,
    "top_burner": TopBurnerExpert,
}


def make_expert(
    task: str, style: ExpertStyle | None = None, horizon: int = 50, seed: int = 0
) -> ScriptedExpert:
    """A fresh expert (they keep per-episode state) for a task name."""
    return EXPERTS[get_task(task).name](style=style, horizon=horizon, seed=seed)
