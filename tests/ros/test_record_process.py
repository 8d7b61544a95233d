"""record.launch.py's plan for slide_cabinet: kitchen_sim (scripted expert), vip_reward_node and
demo_recorder as processes; the operator's keys arrive over /vip/keys as the keys tool sends them.

Two demos are recorded (labelled success and failure); each holds every joint state the simulator
sent while it recorded, and both pass `vipflow episodes validate` with the plan's defaults.
"""

from __future__ import annotations

import numpy as np
import pytest
from rosproc import assert_recorded_everything, launch_plan, plan_specs, validate_episodes, wait_until

from vipflow.episodes import list_episodes, read_episode
from vipflow.ros.remote_keys import PROMPT_TOPIC, prompt_qos


@pytest.mark.slow
def test_record_plan_records_two_valid_episodes(ros, encoder_file, tmp_path):
    import rclpy.qos
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Bool, String

    weights, _encoder = encoder_file
    dataset = tmp_path / "dataset"
    small = tmp_path / "site.yaml"
    small.write_text("kitchen_sim:\n  ros__parameters:\n    image_size: 64\n")
    specs = plan_specs(
        "record",
        None,
        task="slide_cabinet",
        num_episodes="2",
        dataset=str(dataset),
        operator="pytest",
        encoder_weights=str(weights),
        params_file=str(small),
    )
    nodes = launch_plan(ros, specs)
    assert set(nodes) == {"kitchen_sim", "vip_reward_node", "demo_recorder"}
    recorder = nodes["demo_recorder"]
    assert recorder.cmd  # the plan's parameters went in as a file
    probe = ros.probe
    success = probe.collect(Bool, "/kitchen/success")
    keys = probe.publisher(String, "/vip/keys")
    states = probe.collect(JointState, "/kitchen/joint_states", 100)  # reliable and deep: all it sent
    first = ("ready for episode_0000", "reset the scene for episode_0000")
    wait_until(lambda: any(q in recorder.log() for q in first), 180, "the recorder", *nodes.values())
    # like a keys tool started late: the prompt topic is latched, so the question already asked arrives
    prompts = probe.collect(String, PROMPT_TOPIC, prompt_qos(rclpy.qos))

    def said(text: str) -> int:
        return sum(text in m.data for _, m in prompts)

    def press(key: str) -> None:
        keys.publish(String(data=key))

    wait_until(lambda: any(said(q) for q in first), 30, "the latched first prompt", recorder)
    wait_until(lambda: keys.get_subscription_count() >= 2, 30, "recorder and kitchen on /vip/keys")
    for i, label in enumerate(("s", "f")):
        if i:  # the operator waits for the prompt: the recorder asks kitchen_sim for a new scene first
            wait_until(lambda: said("for episode_0001 (2/2)") > 0, 30, "the second prompt", recorder)
        press("space")
        wait_until(lambda i=i: said("time up for") > i, 30, f"demo {i} to end", recorder)
        if label == "s":  # the operator judges: the scripted expert opens the cabinet (in real time)
            wait_until(lambda: bool(success) and success[-1][1].data, 20, "the expert to open the cabinet")
        press(label)
    assert recorder.wait(60) == 0, recorder.log()
    assert said("session done: 2 episode(s) kept (1 success, 1 failure")

    episodes = list_episodes(dataset)
    assert [e.label for e in episodes] == ["success", "failure"] and all(e.usable for e in episodes)
    for e in episodes:  # the expert moved the arm in each demo, from the first frame on
        q = read_episode(e.path).states().joint_pos
        assert np.abs(q[-1] - q[0]).max() > 0.05, f"{e.name}: the arm stood still"
    assert_recorded_everything(dataset, states)
    validate_episodes(dataset, states)
