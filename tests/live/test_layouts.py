"""The shipped layouts are what the SDK's layout API builds, and read back into its classes."""

from __future__ import annotations

import json

import foxglove.layouts as fl
import pytest

from vipflow.cli.main import main
from vipflow.live import topics as T
from vipflow.live.layouts import PATHS, SOURCES, build_layout, load_layout, shipped_layout
from vipflow.ros.names import ACTION_TOPIC, POLICY_STATUS_TOPIC, STAMPED_SUFFIX
from vipflow.task_config import TopicSpec


def panels(node):
    """Every panel of a layout, depth first."""
    if isinstance(node, fl.Layout):
        yield from panels(node.content)
    elif isinstance(node, fl.SplitContainer):
        for item in node.items:
            yield from panels(item.content)
    else:
        yield node


@pytest.mark.parametrize("source", SOURCES)
def test_shipped_layout_loads_with_the_sdk_layout_api(source):
    path = shipped_layout(source)
    layout = load_layout(path)
    assert isinstance(layout, fl.Layout)
    assert layout.to_json() == build_layout(source).to_json()  # shipped file == what the API builds
    assert json.loads(layout.to_json()) == json.loads(path.read_text())
    kinds = [type(p).__name__ for p in panels(layout)]
    assert kinds.count("ImagePanel") == 1 and kinds.count("LogPanel") == 1 and kinds.count("PlotPanel") == 3
    plots = {p.title: [s.value for s in p.config.paths]
             for p in panels(layout) if isinstance(p, fl.PlotPanel)}
    assert set(plots) == {"value and reward", "joint positions", "commanded action"}
    assert len(plots["joint positions"]) == 7 and len(plots["commanded action"]) == 7


def test_live_layout_names_the_live_topics():
    layout = load_layout(shipped_layout("live"))
    image = next(p for p in panels(layout) if isinstance(p, fl.ImagePanel))
    assert image.config.image_mode.image_topic == T.IMAGE
    log = next(p for p in panels(layout) if isinstance(p, fl.LogPanel))
    assert log.config.topic_to_render == T.LOG
    plot = next(p for p in panels(layout) if isinstance(p, fl.PlotPanel))
    assert [s.value for s in plot.config.paths] == [f"{T.REWARD}.value", f"{T.REWARD}.reward"]


def test_unknown_field_is_refused(tmp_path):
    doc = json.loads(shipped_layout("ros").read_text())
    doc["content"]["items"][0]["content"]["items"][0]["content"]["config"]["imageTopicc"] = "/x"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="ImageConfig has no field 'imageTopicc'"):
        load_layout(bad)


def test_cli_writes_a_layout(tmp_path, capsys):
    out = tmp_path / "ros.json"
    assert main(["live", "layout", "ros", "--out", str(out)]) == 0
    assert out.read_text() == shipped_layout("ros").read_text()
    assert main(["live", "layout", "episodes"]) == 0
    assert capsys.readouterr().out.strip().endswith("episodes.json")


def test_ros_layout_shows_the_topics_our_nodes_publish_by_default():
    ros = PATHS["ros"]
    stamped = TopicSpec().reward + STAMPED_SUFFIX
    assert ros.image == TopicSpec().image
    assert (ros.value, ros.reward) == ((f"{stamped}.point.x",), (f"{stamped}.point.y",))
    assert ros.action.startswith(ACTION_TOPIC + ".") and ros.status == POLICY_STATUS_TOPIC
