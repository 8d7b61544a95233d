"""25 Hz policy runtime: control loop, perception, safety limits and layer, timing (see
docs/runtime.md).

The package namespace holds the pieces a ROS node or a script composes a loop from. Evaluation
sessions, backends, ledgers and tables built on it are ``vipflow.evaluation``; cameras and robots
are ``vipflow.hardware``.
"""

from vipflow.runtime.limits import LimitsError, SafetyLimits, limits_from_dict, load_limits
from vipflow.runtime.loop import ControlLoop, LoopResult, TickRecord, stop_on_sigint
from vipflow.runtime.perception import InlinePerception, Observation, ThreadedPerception
from vipflow.runtime.safety import Hold, SafetyLayer, SafetyReport

__all__ = [
    "ControlLoop",
    "Hold",
    "InlinePerception",
    "LimitsError",
    "LoopResult",
    "Observation",
    "SafetyLayer",
    "SafetyLimits",
    "SafetyReport",
    "ThreadedPerception",
    "TickRecord",
    "limits_from_dict",
    "load_limits",
    "stop_on_sigint",
]
