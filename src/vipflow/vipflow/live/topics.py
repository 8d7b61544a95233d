"""Topic names and message schemas of what vipflow streams to Foxglove (live server and sidecars).

Images and the status log use Foxglove's well-known schemas (``foxglove.CompressedImage``,
``foxglove.Log``, protobuf-encoded by the SDK); scalars and vectors are JSON messages described by
the JSON schemas below, so Foxglove's Plot panel can address every field by name
(``/vipflow/reward.value``, ``/vipflow/robot_state.joint_position[0]``, ...).
"""

from __future__ import annotations

from typing import Any

IMAGE = "/camera/color/image_raw/compressed"  # foxglove.CompressedImage (jpeg)
LOG = "/vipflow/log"  # foxglove.Log: episode/rollout start and end, holds, watchdog, stop reasons
REWARD = "/vipflow/reward"  # value and per-step reward against the goal (also the sidecar's topic)
ROBOT_STATE = "/vipflow/robot_state"
ACTION = "/vipflow/action"
SAFETY = "/vipflow/safety"
EVENT = "/vipflow/events"

_STAMP = {
    "type": "object",
    "title": "time",
    "properties": {"sec": {"type": "integer"}, "nsec": {"type": "integer"}},
}
_VECTOR = {"type": "array", "items": {"type": "number"}}


def _schema(title: str, description: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "title": title,
        "description": description,
        "properties": {"timestamp": _STAMP, **properties},
    }


REWARD_SCHEMA = _schema(
    "vipflow.Reward",
    "Value of the frame against the goal (VIP: -L2 distance; LIV: cos/(1-gamma)) and the step reward "
    "r_t = v_t - v_{t-1} (0 on the first frame).",
    value={"type": "number"},
    reward={"type": "number"},
    frame={"type": "integer", "description": "frame index in the episode or video"},
    goal={"type": "string"},
)
ROBOT_STATE_SCHEMA = _schema(
    "vipflow.RobotState",
    "Proprioception in the robot base frame.",
    joint_position=_VECTOR,
    joint_velocity=_VECTOR,
    ee_position={**_VECTOR, "description": "x, y, z in metres"},
    ee_orientation={**_VECTOR, "description": "qx, qy, qz, qw"},
    gripper_width={"type": "number"},
)
ACTION_SCHEMA = _schema(
    "vipflow.Action",
    "The policy's raw output and the action actually commanded after the safety layer (zero step on hold).",
    space={"type": "string"},
    commanded=_VECTOR,
    raw=_VECTOR,
    held={"type": "boolean"},
)
SAFETY_SCHEMA = _schema(
    "vipflow.Safety",
    "Per tick: whether the safety layer or the watchdog held the arm, and why.",
    held={"type": "boolean"},
    reason={"type": "string"},
    holds_in_row={"type": "integer"},
    holds_total={"type": "integer"},
)
EVENT_SCHEMA = _schema(
    "vipflow.Event",
    "Episode (recording) and rollout (evaluation) boundaries with their labels.",
    event={"type": "string", "enum": ["episode_start", "episode_end", "rollout_start", "rollout_end"]},
    name={"type": "string"},
    index={"type": "integer"},
    label={"type": "string"},
    detail={"type": "string"},
)

JSON_TOPICS: dict[str, dict[str, Any]] = {
    REWARD: REWARD_SCHEMA,
    ROBOT_STATE: ROBOT_STATE_SCHEMA,
    ACTION: ACTION_SCHEMA,
    SAFETY: SAFETY_SCHEMA,
    EVENT: EVENT_SCHEMA,
}


def stamp(ns: int) -> dict[str, int]:
    """Foxglove's JSON time: whole seconds and nanoseconds."""
    return {"sec": ns // 1_000_000_000, "nsec": ns % 1_000_000_000}
