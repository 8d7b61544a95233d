"""The kitchen tasks we simulate: success test, where a reset puts the gripper, what the camera sees.

Success uses FrankaKitchen's own definition (``‖qpos[idx] − goal‖ < 0.3`` on the task's object
joints, the constants imported from gymnasium-robotics) so our numbers mean what theirs mean.
The reset offsets put the gripper 10–20 cm from the handle: at 25 Hz the position servos track
at ~35 % of the commanded speed, so a 50-step (2 s) episode cannot start from the stock home pose.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np

# gymnasium-robotics prints a notice about its Adroit environments to stderr on import; it has
# nothing to do with the kitchen and would clutter every command's output.
with contextlib.redirect_stderr(io.StringIO()):
    from gymnasium_robotics.envs.franka_kitchen.kitchen_env import (
        BONUS_THRESH,
        OBS_ELEMENT_GOALS,
        OBS_ELEMENT_INDICES,
        KitchenEnv,  # noqa: F401  (re-exported for vipflow.sim.kitchen: the notice is silenced once)
    )


class UnknownTaskError(ValueError):
    """The task name is not one of the simulated kitchen tasks."""


@dataclass(frozen=True)
class CameraView:
    """A free MuJoCo camera aimed at the task (the model's own cameras see only the countertop).

    ``lookat`` is relative to the task site in its stock (closed) position, so the view frames
    the handle, the gripper in front of it and the space the door moves into.
    """

    lookat: tuple[float, float, float]
    distance: float = 1.4
    azimuth: float = 90.0  # looking along +y, from behind the robot into the kitchen
    elevation: float = -30.0


@dataclass(frozen=True)
class KitchenTask:
    """One kitchen task.

    ``site`` is the handle the expert grasps or pushes; ``reset_offset`` is the gripper position
    relative to that site at reset, jittered uniformly by ``reset_noise`` metres per axis.
    ``goal_text`` is the sentence used as a LIV goal and episode metadata.
    """

    name: str
    kitchen_name: str  # FrankaKitchen's task key
    site: str
    reset_offset: tuple[float, float, float]
    reset_noise: float
    gripper_open: bool  # gripper opening at reset
    view: CameraView
    goal_text: str
    # Arm posture the reset IK starts from and is pulled toward. The kitchen's home pose has
    # joint 2 at its limit; from there IK for low or far handles ends pinned at that limit.
    posture: tuple[float, ...] | None = None
    horizon: int = 50  # steps at 25 Hz in which the scripted expert reliably succeeds

    @property
    def qpos_indices(self) -> np.ndarray:
        return OBS_ELEMENT_INDICES[self.kitchen_name]

    @property
    def goal(self) -> np.ndarray:
        return OBS_ELEMENT_GOALS[self.kitchen_name]

    def distance_to_goal(self, qpos: np.ndarray) -> float:
        return float(np.linalg.norm(qpos[self.qpos_indices] - self.goal))

    def is_success(self, qpos: np.ndarray) -> bool:
        return self.distance_to_goal(qpos) < BONUS_THRESH


TASKS: dict[str, KitchenTask] = {
    task.name: task
    for task in (
        KitchenTask(
            name="slide_cabinet",
            kitchen_name="slide cabinet",
            site="slide_site",
            reset_offset=(-0.07, -0.14, -0.04),
            reset_noise=0.03,
            gripper_open=True,
            view=CameraView(lookat=(0.08, -0.06, -0.08)),
            goal_text="open the slide cabinet",
        ),
        KitchenTask(
            name="microwave",
            kitchen_name="microwave",
            site="microhandle_site",
            # The handle sits at the edge of the arm's reach; a draw 3 cm further left and lower
            # has no IK solution with this wrist orientation, so the box is shifted and shrunk.
            reset_offset=(0.01, -0.09, 0.01),
            reset_noise=0.025,
            gripper_open=True,
            view=CameraView(lookat=(-0.08, -0.1, 0.0)),
            goal_text="open the microwave door",
            posture=(1.141, 1.412, 0.218, -1.084, -1.986, -0.009, 2.433),
        ),
        KitchenTask(
            name="hinge_cabinet",
            kitchen_name="hinge cabinet",
            site="hinge_site2",
            reset_offset=(0.0, -0.10, -0.12),
            reset_noise=0.03,
            gripper_open=True,
            view=CameraView(lookat=(0.05, -0.1, -0.1)),
            goal_text="open the hinge cabinet door",
            posture=(-1.332, -1.019, 1.244, -1.148, 0.182, 0.904, 0.783),
            horizon=100,  # a 1.15 rad door swing at the edge of the reach takes ~80 steps
        ),
        KitchenTask(
            name="light_switch",
            kitchen_name="light switch",
            site="light_site",
            reset_offset=(0.08, -0.08, 0.0),
            reset_noise=0.03,
            gripper_open=False,
            view=CameraView(lookat=(0.0, -0.05, 0.0), distance=1.2),
            goal_text="turn on the light switch",
        ),
    )
}


def _burner(level: str, *, knob: int, lookat_z: float) -> KitchenTask:
    """A burner task: turn its knob (``KnobExpert``), the gripper starting 10 cm in front of it."""
    return KitchenTask(
        name=f"{level}_burner",
        kitchen_name=f"{level} burner",
        site=f"knob{knob}_site",
        reset_offset=(0.0, -0.10, 0.0),
        reset_noise=0.02,
        gripper_open=True,
        view=CameraView(lookat=(0.0, 0.0, lookat_z)),
        goal_text=f"turn on the {level} burner",
    )


# FrankaKitchen's other three tasks. Their scripted motions film pretraining video for the
# kitchen encoder (vipflow.sim.encoder); they have no failure styles or benchmark entries.
VIDEO_TASKS: dict[str, KitchenTask] = {
    task.name: task
    for task in (
        KitchenTask(
            name="kettle",
            kitchen_name="kettle",
            site="kettle_site",
            reset_offset=(0.0, -0.16, 0.0),
            reset_noise=0.02,
            gripper_open=False,
            view=CameraView(lookat=(0.0, 0.15, -0.1)),
            goal_text="move the kettle to the back burner",
            # The kettle sits low and close to the base: reachable with the wrist pitched down
            # (KettleExpert) from this elbow-up posture, not from the home pose's.
            posture=(2.417, 1.034, -0.692, -2.464, 2.374, 1.793, -0.465),
            horizon=80,
        ),
        _burner("bottom", knob=2, lookat_z=0.05),
        _burner("top", knob=4, lookat_z=0.0),
    )
}
KITCHEN_TASKS: dict[str, KitchenTask] = {**TASKS, **VIDEO_TASKS}  # all seven FrankaKitchen tasks


def get_task(name: str) -> KitchenTask:
    """Look a task up by name; accepts FrankaKitchen's spelling ("slide cabinet") too."""
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return KITCHEN_TASKS[key]
    except KeyError:
        raise UnknownTaskError(
            f"unknown simulated task {name!r}; choose one of {sorted(TASKS)} "
            f"(or, for pretraining video only, {sorted(VIDEO_TASKS)})"
        ) from None
