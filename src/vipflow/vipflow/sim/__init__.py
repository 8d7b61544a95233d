"""FrankaKitchen at 25 Hz as camera, robot and clock backends, with scripted experts.

Importing this package chooses a headless GL backend (EGL, else OSMesa) unless ``MUJOCO_GL``
is set, so import it before anything else imports mujoco.
"""

from vipflow.sim.render import RenderError, configure_gl  # noqa: I001  (must run before mujoco loads)
from vipflow.sim.kitchen import CONTROL_RATE_HZ, KitchenSim, SimCamera, SimClock, SimRobot
from vipflow.sim.tasks import TASKS, KitchenTask, UnknownTaskError, get_task

__all__ = [
    "CONTROL_RATE_HZ",
    "TASKS",
    "KitchenSim",
    "KitchenTask",
    "RenderError",
    "SimCamera",
    "SimClock",
    "SimRobot",
    "UnknownTaskError",
    "configure_gl",
    "get_task",
]
