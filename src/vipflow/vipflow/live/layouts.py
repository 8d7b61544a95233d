"""Foxglove layouts for the three places our data comes from, built with the SDK's layout API.

- ``ros``: the live topics of our ROS 2 nodes (camera, `/vip/reward_stamped`, `/joint_states`,
  `/vip/action`, `/rosout`, `/vip/policy_status`);
- ``live``: the ROS-free ``--live`` server (`vipflow.live.topics`);
- ``episodes``: a recorded episode opened together with its reward sidecar (``rewards --sidecar``).

Each has the camera image, a value/reward plot, joint and action plots, and the status log. The
shipped JSON files (``vipflow/assets/layouts/<source>.json``) are exactly ``build_layout(source)
.to_json()``; a test keeps them in sync and reads them back into the SDK's layout classes.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from vipflow.episodes import messages as m
from vipflow.live import topics as T
from vipflow.task_config import TopicSpec

SOURCES = ("ros", "live", "episodes")
JOINTS = 7
# The default topics of a real-robot task; the reward node's stamped twin, the policy's action and
# status are vipflow.ros.names' (not imported: ros depends on live; tests/live checks they agree).
_ROS = TopicSpec()


@dataclass(frozen=True)
class Paths:
    """FoxQL paths of one source."""

    image: str
    value: tuple[str, ...]  # value series (several: e.g. sidecar and the rollout's own /reward)
    reward: tuple[str, ...]
    joint: str  # with {i} for the joint index
    action: str  # with {i} for the action dimension
    log: str
    status: str | None  # a topic shown as raw messages (None: none)


PATHS = {
    "ros": Paths(
        image=_ROS.image,
        value=(f"{_ROS.reward}_stamped.point.x",),
        reward=(f"{_ROS.reward}_stamped.point.y",),
        joint=f"{_ROS.joint_states}.position[{{i}}]",
        action="/vip/action.data[{i}]",
        log="/rosout",
        status="/vip/policy_status",
    ),
    "live": Paths(
        image=T.IMAGE,
        value=(f"{T.REWARD}.value",),
        reward=(f"{T.REWARD}.reward",),
        joint=f"{T.ROBOT_STATE}.joint_position[{{i}}]",
        action=f"{T.ACTION}.commanded[{{i}}]",
        log=T.LOG,
        status=T.SAFETY,
    ),
    "episodes": Paths(
        image=m.TOPIC_IMAGE,
        value=(f"{T.REWARD}.value", f"{m.TOPIC_REWARD}.data[0]"),  # sidecar; rollouts also carry /reward
        reward=(f"{T.REWARD}.reward", f"{m.TOPIC_REWARD}.data[1]"),
        joint=f"{m.TOPIC_JOINTS}.position[{{i}}]",
        action=f"{m.TOPIC_ACTION}.data[{{i}}]",
        log=T.LOG,
        status=None,
    ),
}


def build_layout(source: str):
    """The layout for ``source`` (one of `SOURCES`) as a ``foxglove.layouts.Layout``."""
    import foxglove.layouts as fl

    if source not in PATHS:
        raise ValueError(f"unknown layout source {source!r}; choose one of {', '.join(SOURCES)}")
    p = PATHS[source]

    def plot(title: str, series: list[tuple[str, str]], y_label: str):
        paths = [fl.PlotSeries(value=value, label=label, timestamp_method="receiveTime")
                 for value, label in series]
        config = fl.PlotConfig(paths=paths, show_legend=True, legend_display="floating", y_axis_label=y_label)
        return fl.PlotPanel(title=title, config=config)

    joints = range(JOINTS)
    values = [(v, "value" if i == 0 else f"value ({v.split('.')[0]})") for i, v in enumerate(p.value)]
    rewards = [(r, "reward" if i == 0 else f"reward ({r.split('.')[0]})") for i, r in enumerate(p.reward)]
    right = [
        fl.SplitItem(proportion=1.2, content=plot("value and reward", values + rewards, "value / reward")),
        fl.SplitItem(content=plot("joint positions", [(p.joint.format(i=i), f"q{i + 1}") for i in joints],
                                  "rad")),
        fl.SplitItem(content=plot("commanded action", [(p.action.format(i=i), f"a{i}") for i in joints],
                                  "action")),
    ]
    left = [
        fl.SplitItem(proportion=2, content=fl.ImagePanel(
            title="camera", config=fl.ImageConfig(image_mode=fl.ImageModeConfig(image_topic=p.image)))),
        fl.SplitItem(content=fl.LogPanel(title="status log", config=fl.LogConfig(topic_to_render=p.log))),
    ]
    if p.status is not None:
        left.append(fl.SplitItem(proportion=0.6, content=fl.RawMessagesPanel(
            title="safety / status", config=fl.RawMessagesConfig(topic_path=p.status))))
    return fl.Layout(content=fl.SplitContainer(direction="row", items=[
        fl.SplitItem(content=fl.SplitContainer(direction="column", items=left)),
        fl.SplitItem(proportion=1.3, content=fl.SplitContainer(direction="column", items=right)),
    ]))


def shipped_layout(source: str) -> Path:
    """Path of the layout JSON shipped with the package (import it in Foxglove: Layouts -> Import)."""
    if source not in PATHS:
        raise ValueError(f"unknown layout source {source!r}; choose one of {', '.join(SOURCES)}")
    return Path(str(resources.files("vipflow") / "assets" / "layouts" / f"{source}.json"))


# -- reading a layout back into the SDK's classes -----------------------------------------------------
def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def _panel_classes(fl) -> dict[str, type]:
    """panelType -> SDK panel class, read from each class's own serialisation."""
    out = {}
    for obj in vars(fl).values():
        if isinstance(obj, type) and issubclass(obj, fl.BasePanel) and obj not in (fl.BasePanel, fl.Panel):
            fields = {f.name: None for f in dataclasses.fields(obj) if f.name != "config"}
            try:
                out[obj(**fields)._to_dict()["panelType"]] = obj
            except TypeError:
                continue
    return out


def _convert(value, hint, fl, panels):
    """JSON -> instance of ``hint`` (an SDK dataclass, container or union); strict about keys."""
    origin = typing.get_origin(hint)
    if hint is typing.Any or hint is None or value is None:
        return value
    if isinstance(hint, str):
        hint = eval(hint, vars(fl))  # the SDK's forward references, e.g. "VariableValue"
        return _convert(value, hint, fl, panels)
    if origin in (typing.Union, types.UnionType):
        if isinstance(value, dict) and "type" in value:  # Content: panels and containers
            kind = value["type"]
            cls = {"split": fl.SplitContainer, "stack": fl.StackContainer, "tabs": fl.TabContainer}.get(kind)
            if kind == "panel":
                cls = panels.get(value.get("panelType"), fl.Panel)
            return _from_dict(cls, value, fl, panels)
        for arg in typing.get_args(hint):
            if dataclasses.is_dataclass(arg) and isinstance(value, dict):
                return _from_dict(arg, value, fl, panels)
            container = typing.get_origin(arg)
            if (container, type(value)) in ((list, list), (dict, dict)):
                return _convert(value, arg, fl, panels)
        return value
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_convert(v, item, fl, panels) for v in value]
    if origin is dict:
        _, item = typing.get_args(hint)
        return {k: _convert(v, item, fl, panels) for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return _from_dict(hint, value, fl, panels)
    return value


def _from_dict(cls, data: dict, fl, panels):
    hints = typing.get_type_hints(cls, vars(fl))
    by_key = {_camel(f.name): f.name for f in dataclasses.fields(cls)}
    if cls is fl.Layout:
        fixed = {"version"}
    elif issubclass(cls, fl.BasePanel) and cls is not fl.Panel:
        fixed = {"type", "panelType", "version"}  # written by each panel class itself
    else:
        fixed = {"type"}
    kwargs = {}
    for key, value in data.items():
        if key in fixed and key not in by_key:
            continue
        if key not in by_key:
            raise ValueError(f"{cls.__name__} has no field {key!r}")
        name = by_key[key]
        kwargs[name] = _convert(value, hints[name], fl, panels)
    return cls(**kwargs)


def load_layout(path: str | Path):
    """Read a layout JSON back into ``foxglove.layouts.Layout`` (raises on unknown fields or panels)."""
    import foxglove.layouts as fl

    data = json.loads(Path(path).read_text())
    if data.get("version") != 1:
        raise ValueError(f"{path}: layout version {data.get('version')!r}, expected 1")
    return _from_dict(fl.Layout, data, fl, _panel_classes(fl))
