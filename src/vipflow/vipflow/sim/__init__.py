"""FrankaKitchen at 25 Hz, stepped like hardware, with scripted experts and the demo workflow.

Its camera, robot and clock adapters are the ``sim`` driver of ``vipflow.hardware``.

Importing this package chooses a headless GL backend (EGL, else OSMesa) unless ``MUJOCO_GL``
is set, so import it before anything else imports mujoco.
"""

from vipflow.sim.render import RenderError, configure_gl  # noqa: I001  (must run before mujoco loads)
from vipflow.sim.kitchen import CONTROL_RATE_HZ, KitchenSim
from vipflow.sim.tasks import TASKS, KitchenTask, UnknownTaskError, get_task

__all__ = [
    "CONTROL_RATE_HZ",
    "TASKS",
    "KitchenSim",
    "KitchenTask",
    "RenderError",
    "UnknownTaskError",
    "configure_gl",
    "get_task",
]
